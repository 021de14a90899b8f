//! Chat templates: the real models' embedded templates, the built-in fallbacks, HF template
//! features, and typed errors.

use chord_gguf::{GgufMmap, Metadata, Value};
use chord_model::chat::{BuiltinTemplate, ChatError, ChatMessage, ChatTemplate, TemplateSource};
use std::path::PathBuf;

/// A model from the cache (`$CHORD_HOME/models` or `~/.cache/wasm-chord/models`). A missing
/// file fails the test, with instructions.
fn model_path(_file: &str, name: &str) -> PathBuf {
    chord_testkit::model(name)
}

/// Loads a model's metadata and builds its template the way the CLI does.
fn template_of(file: &str, name: &str) -> (ChatTemplate, Metadata) {
    let gguf = GgufMmap::open(model_path(file, name)).expect("open model");
    let meta = gguf.header().metadata.clone();
    let tokens: Vec<String> = meta
        .get_str_array("tokenizer.ggml.tokens")
        .expect("tokens")
        .expect("tokens present")
        .into_iter()
        .map(str::to_string)
        .collect();
    let token = |key: &str| -> String {
        meta.get_u64(key)
            .unwrap()
            .and_then(|id| tokens.get(id as usize).cloned())
            .unwrap_or_default()
    };
    let bos = token("tokenizer.ggml.bos_token_id");
    let eos = token("tokenizer.ggml.eos_token_id");
    let t = ChatTemplate::from_metadata(&meta, &bos, &eos, |s| tokens.iter().any(|t| t == s))
        .expect("template");
    (t, meta)
}

const QWEN_05B: (&str, &str) = (
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-0.5b",
);
const QWEN_15B: (&str, &str) = (
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b",
);
const GEMMA: (&str, &str) = ("gemma-3-270m-q4_k_m.gguf", "gemma3-270m");

/// The `chat_qwen` prompt of the shared reference set (/work/shared/reference/prompts.json).
const CHAT_QWEN: &str = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";

#[test]
fn qwen_embedded_template_renders_reference_prompt() {
    for (file, name) in [QWEN_05B, QWEN_15B] {
        let (t, _) = template_of(file, name);
        assert_eq!(t.source(), TemplateSource::Embedded, "{file}");
        let msgs = [
            ChatMessage::system("You are a helpful assistant."),
            ChatMessage::user("What is 2+2?"),
        ];
        assert_eq!(t.render(&msgs, true).unwrap(), CHAT_QWEN, "{file}");
    }
}

#[test]
fn qwen_default_system_prompt_when_none_given() {
    let (t, _) = template_of(QWEN_05B.0, QWEN_05B.1);
    const DEFAULT: &str = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    assert!(t.jinja_source().unwrap().contains(DEFAULT));
    let out = t.render(&[ChatMessage::user("Hi")], true).unwrap();
    assert_eq!(
        out,
        format!("<|im_start|>system\n{DEFAULT}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    );
}

#[test]
fn qwen_multi_turn() {
    let (t, _) = template_of(QWEN_05B.0, QWEN_05B.1);
    let msgs = [
        ChatMessage::system("Be brief."),
        ChatMessage::user("Hi"),
        ChatMessage::assistant("Hello! How can I help?"),
        ChatMessage::user("Write \"fib\" in Rust\n"),
    ];
    let expected = "<|im_start|>system\nBe brief.<|im_end|>\n\
                    <|im_start|>user\nHi<|im_end|>\n\
                    <|im_start|>assistant\nHello! How can I help?<|im_end|>\n\
                    <|im_start|>user\nWrite \"fib\" in Rust\n<|im_end|>\n";
    assert_eq!(t.render(&msgs, false).unwrap(), expected);
    assert_eq!(
        t.render(&msgs, true).unwrap(),
        format!("{expected}<|im_start|>assistant\n")
    );
    // The embedded template agrees with the ChatML built-in whenever a system turn is given.
    assert_eq!(
        t.render(&msgs, true).unwrap(),
        ChatTemplate::builtin(BuiltinTemplate::ChatMl)
            .render(&msgs, true)
            .unwrap()
    );
}

#[test]
fn gemma_without_template_uses_builtin_gemma() {
    let (t, meta) = template_of(GEMMA.0, GEMMA.1);
    assert!(!meta.contains("tokenizer.chat_template"));
    assert_eq!(t.source(), TemplateSource::BuiltIn(BuiltinTemplate::Gemma));
    assert_eq!(t.source().to_string(), "the built-in 'gemma' chat template");
    let out = t
        .render(
            &[
                ChatMessage::system("You are terse. "),
                ChatMessage::user("  What is 2+2?\n"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        out,
        "<start_of_turn>user\nYou are terse.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n"
    );
    let out = t
        .render(
            &[
                ChatMessage::user("Hi"),
                ChatMessage::assistant("Hello."),
                ChatMessage::user("Bye"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        out,
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n\
         <start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
    );
    assert_eq!(
        t.render(&[ChatMessage::user("Hi")], false).unwrap(),
        "<start_of_turn>user\nHi<end_of_turn>\n"
    );
}

/// A Gemma-3 style HF template (first system message folded into the first user turn,
/// strict alternation enforced with raise_exception).
const GEMMA3_STYLE: &str = r#"{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {{- message['content'] | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"#;

fn meta_with(entries: &[(&str, Value)]) -> Metadata {
    let mut m = Metadata::new();
    for (k, v) in entries {
        m.insert(k.to_string(), v.clone());
    }
    m
}

#[test]
fn hf_gemma_template_matches_builtin_and_bos_is_not_doubled() {
    let meta = meta_with(&[
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.add_bos_token", Value::Bool(true)),
        (
            "tokenizer.chat_template",
            Value::String(GEMMA3_STYLE.into()),
        ),
    ]);
    let t = ChatTemplate::from_metadata(&meta, "<bos>", "<eos>", |_| true).unwrap();
    assert_eq!(t.source(), TemplateSource::Embedded);
    let msgs = [
        ChatMessage::system("You are terse."),
        ChatMessage::user("Hi"),
        ChatMessage::assistant("Hello."),
        ChatMessage::user("Bye"),
    ];
    let builtin = ChatTemplate::builtin(BuiltinTemplate::Gemma)
        .render(&msgs, true)
        .unwrap();
    // The tokenizer adds BOS itself, so the template's leading BOS is removed (as llama.cpp).
    assert_eq!(t.render(&msgs, true).unwrap(), builtin);
    // Without add_bos the BOS stays.
    let kept = ChatTemplate::from_jinja(GEMMA3_STYLE, "<bos>", "<eos>").unwrap();
    assert_eq!(kept.render(&msgs, true).unwrap(), format!("<bos>{builtin}"));
    // Same file with add_bos absent: SentencePiece ("llama") vocabularies add BOS by default.
    let meta = meta_with(&[
        ("tokenizer.ggml.model", Value::String("llama".into())),
        (
            "tokenizer.chat_template",
            Value::String(GEMMA3_STYLE.into()),
        ),
    ]);
    let t = ChatTemplate::from_metadata(&meta, "<bos>", "<eos>", |_| true).unwrap();
    assert_eq!(t.render(&msgs, true).unwrap(), builtin);
}

#[test]
fn raise_exception_is_a_typed_error() {
    let t = ChatTemplate::from_jinja(GEMMA3_STYLE, "<bos>", "<eos>").unwrap();
    let err = t
        .render(&[ChatMessage::user("a"), ChatMessage::user("b")], true)
        .unwrap_err();
    assert_eq!(
        err,
        ChatError::Raised(
            "Conversation roles must alternate user/assistant/user/assistant/...".into()
        )
    );
    assert!(err.to_string().contains("must alternate"), "{err}");
}

#[test]
fn malformed_templates_are_typed_errors() {
    for src in [
        "{% for m in messages %}{{ m.content }}",
        "{{ messages[0]. }}",
        "{% if %}x{% endif %}",
        "{% endfor %}",
        "{{ 'unterminated }}",
        "{% generation %}",
    ] {
        match ChatTemplate::from_jinja(src, "", "") {
            Err(ChatError::Syntax { message, .. }) => assert!(!message.is_empty()),
            other => panic!("{src:?}: expected a syntax error, got {other:?}"),
        }
    }
    let err = ChatTemplate::from_jinja("line one\n{% if x %}\n{% endfor %}", "", "").unwrap_err();
    assert!(
        matches!(err, ChatError::Syntax { line: Some(3), .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 3"), "{err}");

    // Wrong metadata type.
    let meta = meta_with(&[("tokenizer.chat_template", Value::U32(3))]);
    assert!(matches!(
        ChatTemplate::from_metadata(&meta, "", "", |_| false),
        Err(ChatError::Metadata(_))
    ));
}

#[test]
fn render_failures_are_typed_errors() {
    let msgs = [ChatMessage::user("x")];
    for src in [
        "{{ messages + 1 }}",
        "{{ messages[0].content.nosuchmethod() }}",
        "{{ undefined_thing.attr }}",
        // A runaway loop is stopped by the instruction budget.
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ] {
        let t = ChatTemplate::from_jinja(src, "", "").unwrap();
        match t.render(&msgs, true) {
            Err(ChatError::Render { .. }) => {}
            other => panic!("{src:?}: expected a render error, got {other:?}"),
        }
    }
    // An empty conversation with a template that indexes messages[0] fails cleanly.
    let (t, _) = template_of(QWEN_05B.0, QWEN_05B.1);
    let r = t.render(&[], true);
    assert!(matches!(r, Err(ChatError::Render { .. })), "{r:?}");
}

#[test]
fn builtin_detection_by_vocabulary() {
    let chatml_vocab = ["<|im_start|>", "<|im_end|>", "a"];
    let gemma_vocab = [
        "<start_of_turn>",
        "<end_of_turn>",
        "<|im_start|>",
        "<|im_end|>",
    ];
    assert_eq!(
        BuiltinTemplate::detect(|s| chatml_vocab.contains(&s)),
        BuiltinTemplate::ChatMl
    );
    assert_eq!(
        BuiltinTemplate::detect(|s| gemma_vocab.contains(&s)),
        BuiltinTemplate::Gemma
    );
    assert_eq!(BuiltinTemplate::detect(|_| false), BuiltinTemplate::Plain);

    let empty = Metadata::new();
    let t = ChatTemplate::from_metadata(&empty, "", "", |s| chatml_vocab.contains(&s)).unwrap();
    assert_eq!(t.source(), TemplateSource::BuiltIn(BuiltinTemplate::ChatMl));
    assert_eq!(
        t.render(
            &[
                ChatMessage::system("You are a helpful assistant."),
                ChatMessage::user("What is 2+2?")
            ],
            true
        )
        .unwrap(),
        CHAT_QWEN
    );

    let t = ChatTemplate::from_metadata(&empty, "", "", |_| false).unwrap();
    assert_eq!(t.source(), TemplateSource::BuiltIn(BuiltinTemplate::Plain));
    assert_eq!(
        t.render(
            &[
                ChatMessage::system("Be kind."),
                ChatMessage::user("Hi"),
                ChatMessage::assistant("Hello."),
                ChatMessage::user("Bye")
            ],
            true
        )
        .unwrap(),
        "System: Be kind.\nUser: Hi\nAssistant: Hello.\nUser: Bye\nAssistant:"
    );

    // A template value naming a built-in selects it, as in llama.cpp.
    let meta = meta_with(&[("tokenizer.chat_template", Value::String("chatml".into()))]);
    let t = ChatTemplate::from_metadata(&meta, "", "", |_| false).unwrap();
    assert_eq!(t.source(), TemplateSource::BuiltIn(BuiltinTemplate::ChatMl));
}

#[test]
fn hf_environment_features() {
    let msgs = [
        ChatMessage::system("  sys  "),
        ChatMessage::user("Hello World"),
        ChatMessage::assistant("ok"),
        ChatMessage::user("last"),
    ];
    let render = |src: &str| {
        ChatTemplate::from_jinja(src, "<s>", "</s>")
            .unwrap()
            .with_now(1_721_997_296)
            .render(&msgs, true)
            .unwrap()
    };
    // trim_blocks + lstrip_blocks: block tags leave no whitespace behind.
    assert_eq!(
        render("{% for m in messages %}\n    {% if m.role == 'user' %}\n[{{ m.content }}]\n    {% endif %}\n{% endfor %}\n"),
        "[Hello World]\n[last]\n"
    );
    // Loop controls, loop variables, namespace.
    assert_eq!(
        render("{% set ns = namespace(n=0) %}{% for m in messages %}{% if m.role == 'assistant' %}{% break %}{% endif %}{% set ns.n = ns.n + 1 %}{{ loop.index0 }}{% if not loop.last %},{% endif %}{% endfor %}|{{ ns.n }}"),
        "0,1,|2"
    );
    assert_eq!(
        render("{% for m in messages %}{% if loop.first %}{% continue %}{% endif %}{{ m.role[0] }}{% endfor %}"),
        "uau"
    );
    // Python string methods.
    assert_eq!(
        render("{{ messages[0].content.strip() }}|{{ messages[1].content.startswith('Hello') }}|{{ messages[1].content.split(' ')[1].upper() }}|{{ messages[1].content.replace('World', 'there') }}"),
        "sys|True|WORLD|Hello there"
    );
    // Context variables: tokens, generation flag, tools is none.
    assert_eq!(
        render("{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}{{ tools is none }}{{ tools is defined }}"),
        "<s></s>TrueTrueTrue"
    );
    // strftime_now with a fixed clock.
    assert_eq!(render("{{ strftime_now('%d %b %Y') }}"), "26 Jul 2024");
}

#[test]
fn tojson_follows_python_json_dumps() {
    let msgs = [ChatMessage::user("é<\"\n")];
    let render = |src: &str| {
        ChatTemplate::from_jinja(src, "", "")
            .unwrap()
            .render(&msgs, false)
            .unwrap()
    };
    assert_eq!(
        render(
            r#"{{ {"name": "f", "arguments": {"b": 1, "a": [1.0, 2.5, true, none]}} | tojson }}"#
        ),
        r#"{"name": "f", "arguments": {"b": 1, "a": [1.0, 2.5, true, null]}}"#
    );
    assert_eq!(
        render("{{ messages[0] | tojson }}"),
        r#"{"role": "user", "content": "é<\"\n"}"#
    );
    assert_eq!(
        render("{{ messages[0].content | tojson(ensure_ascii=true) }}"),
        r#""\u00e9<\"\n""#
    );
    assert_eq!(
        render(r#"{{ {"b": [1, 2], "a": {}} | tojson(indent=2, sort_keys=true) }}"#),
        "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2\n  ]\n}"
    );
    assert_eq!(
        render(r#"{{ {"b": 1, "a": 2} | tojson(separators=(",", ":")) }}"#),
        r#"{"b":1,"a":2}"#
    );
}

#[test]
fn hf_generation_markers_are_accepted() {
    let src = "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %};{% endfor %}";
    let t = ChatTemplate::from_jinja(src, "", "").unwrap();
    assert_eq!(
        t.render(
            &[ChatMessage::user("u"), ChatMessage::assistant("a")],
            false
        )
        .unwrap(),
        "u;a;"
    );
}
