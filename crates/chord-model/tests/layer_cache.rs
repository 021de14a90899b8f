//! Layer streaming's cache on the real Gemma 3 270M file: with a budget of a quarter of the
//! layers' bytes, two decode-like sweeps (layer 0..n with prefetch of the next) return every
//! tensor's bytes exactly as the memory-mapped file has them, within the budget.

use chord_gguf::{FileSource, GgufMmap};
use chord_model::layer_cache::{plan_layers, LayerCache};

#[test]
fn gemma_layers_stream_exactly_within_a_quarter_budget() {
    let path = chord_testkit::model("gemma3-270m");
    let map = GgufMmap::open(&path).expect("map gemma");
    let h = map.header();
    let n_layer = 18;
    let layers = plan_layers(h, n_layer).expect("plan");
    assert!(layers.iter().all(|l| l.tensors.len() >= 9));
    let total: u64 = layers.iter().map(|l| l.bytes()).sum();
    let budget = total / 4;
    let src = FileSource::open(&path).expect("open");
    let mut cache = LayerCache::new(src, layers.clone(), budget).expect("cache");
    for _token in 0..2 {
        for (i, span) in layers.iter().enumerate() {
            let view = cache.get(i).expect("layer");
            for (name, _) in &span.tensors {
                let (info, want) = map.tensor(name).expect("tensor");
                assert_eq!(view.tensor(name), Some(want), "{}", info.name);
            }
            // The next token starts again at layer 0.
            cache.prefetch((i + 1) % n_layer).expect("prefetch");
            assert!(cache.resident_bytes() <= budget);
        }
    }
    let s = cache.stats();
    eprintln!(
        "gemma layer cache, budget {budget} of {total} bytes: {s:?}, hit rate {:.2}",
        s.hit_rate()
    );
    // Every layer but the very first was prefetched; the budget holds ~4 layers, so each sweep
    // re-reads every layer (hits nonetheless, thanks to the prefetch).
    assert_eq!(s.misses, 1);
    assert_eq!(s.hits, 2 * n_layer as u64 - 1);
    assert!(s.bytes_read >= 2 * total - budget, "{s:?}");
}
