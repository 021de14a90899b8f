//! `chord tokenize`: print the token ids of a text as a JSON array.

use super::common::resolve_model;
use chord_model::tokenizer::Tokenizer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model: a GGUF path or a known name.
    #[arg(short = 'm', long = "model")]
    pub model: String,
    /// Do not add BOS/EOS even if the model asks for it.
    #[arg(long = "no-bos")]
    pub no_bos: bool,
    /// Treat special-token text (e.g. `<|im_start|>`) as plain text.
    #[arg(long = "no-parse-special")]
    pub no_parse_special: bool,
    /// The text to tokenize.
    pub text: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // Only the header is needed: no weights are touched.
    let file = chord_gguf::GgufMmap::open(resolve_model(&args.model)?)?;
    let tok = Tokenizer::from_metadata(&file.header().metadata)?;
    let ids = tok.encode(&args.text, !args.no_bos, !args.no_parse_special)?;
    println!("{}", serde_json::to_string(&ids)?);
    Ok(())
}
