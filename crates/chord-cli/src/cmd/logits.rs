//! `chord logits`: the next-token distribution after a prompt, as JSON
//! `{"prompt_ids": [...], "top": [[id, logit], ...]}`.

use super::common::{load_engine, ModelArgs};
use chord_model::{Logits, Scratch};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(short = 'p', long = "prompt")]
    pub prompt: String,
    /// How many of the highest logits to print.
    #[arg(long = "top", default_value_t = 10)]
    pub top: usize,
    /// Do not add BOS/EOS even if the model asks for it.
    #[arg(long = "no-bos")]
    pub no_bos: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = load_engine(&args.model)?;
    let ids = engine.tokenize(&args.prompt, !args.no_bos)?;
    if ids.is_empty() {
        anyhow::bail!("the prompt has no tokens");
    }
    let mut cache = engine.new_cache(ids.len());
    let mut scratch = Scratch::default();
    let logits = engine.model.forward(
        engine.backend.as_ref(),
        &mut cache,
        &ids,
        Logits::Last,
        &mut scratch,
    )?;
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    let top: Vec<(usize, f32)> = order
        .iter()
        .take(args.top)
        .map(|&i| (i, logits[i]))
        .collect();
    println!("{}", serde_json::json!({ "prompt_ids": ids, "top": top }));
    Ok(())
}
