"""Type stubs for the native part of wasm_chord (the Rust extension)."""

from typing import Any, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Union, overload

__version__: str
#: CPU kernel flavour in use: "scalar", "avx2", "avx512emu", "avx512" or "neon" (``CHORD_ISA`` overrides).
kernel_isa: str

class ModelError(Exception):
    """A model could not be found, loaded or run (the message is the runtime's)."""

Stop = Union[str, Iterable[str], None]
Message = Mapping[str, str]

class TextStream(Iterator[str]):
    """Text pieces of a running generation, as they are produced.

    Breaking out of the loop or dropping the iterator stops the generation; model errors are
    raised by the iteration that meets them.
    """

    def __iter__(self) -> "TextStream": ...
    def __next__(self) -> str: ...
    @property
    def finish_reason(self) -> Optional[Literal["stop", "length", "cancelled"]]:
        """Why generation ended (None until the stream is exhausted)."""
    def cancel(self) -> None:
        """Stops the generation; the iterator then ends."""

class Model:
    """A GGUF model loaded for generation.

    ``path_or_name`` is a .gguf path or a known model name ("gemma3-270m", "qwen2.5-coder-0.5b",
    "qwen2.5-coder-1.5b"), resolved like ``chord run -m``. ``n_threads=None`` uses every core;
    ``n_ctx`` is the context size in tokens (0 = the model's, capped at 4096); ``kv_type`` is the
    KV cache's element type ("f16" as ``chord run`` by default, or "f32").
    Raises ModelError if the model cannot be found or loaded, ValueError for bad arguments.
    """

    def __init__(
        self,
        path_or_name: str,
        n_threads: Optional[int] = None,
        n_ctx: int = 4096,
        kv_type: Literal["f16", "f32"] = "f16",
    ) -> None: ...
    @overload
    def generate(
        self,
        prompt: str,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        seed: Optional[int] = None,
        stop: Stop = None,
        stream: Literal[False] = False,
    ) -> str: ...
    @overload
    def generate(
        self,
        prompt: str,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        seed: Optional[int] = None,
        stop: Stop = None,
        *,
        stream: Literal[True],
    ) -> TextStream:
        """Generates a continuation of ``prompt``: the text, or an iterator of pieces with
        ``stream=True``. ``temperature=0`` is greedy (the same text as ``chord run --temp 0``).
        Ends at an end-of-generation token, after ``max_tokens``, when the context is full, or
        before the first ``stop`` string (not returned)."""
    @overload
    def generate(
        self,
        prompt: str,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        seed: Optional[int] = None,
        stop: Stop = None,
        stream: bool = False,
    ) -> Union[str, TextStream]: ...
    @overload
    def chat(
        self,
        messages: List[Message],
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        seed: Optional[int] = None,
        stop: Stop = None,
        stream: Literal[False] = False,
    ) -> str: ...
    @overload
    def chat(
        self,
        messages: List[Message],
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        seed: Optional[int] = None,
        stop: Stop = None,
        *,
        stream: Literal[True],
    ) -> TextStream:
        """The assistant's reply to ``messages`` ([{"role": ..., "content": ...}]), rendered
        with the model's chat template. Same options and results as ``generate``."""
    @overload
    def chat(
        self,
        messages: List[Message],
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        seed: Optional[int] = None,
        stop: Stop = None,
        stream: bool = False,
    ) -> Union[str, TextStream]: ...
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> List[int]:
        """Token ids of ``text`` (BOS as the model's metadata says; special-token text parsed)."""
    def detokenize(self, ids: List[int]) -> str:
        """Text of token ids (a leading BOS dropped, special tokens rendered)."""
    def reset(self) -> None:
        """Forgets the conversation: the next call starts with an empty KV cache."""
    @property
    def metadata(self) -> Dict[str, Any]:
        """GGUF metadata as in ``chord inspect --json`` (long arrays summarised)."""
    @property
    def path(self) -> str:
        """The model file's path."""
    @property
    def n_ctx(self) -> int:
        """The context size in tokens."""
    @property
    def n_vocab(self) -> int:
        """Number of tokens in the vocabulary."""
