fn deq(ro: u32, i: u32) -> f32 { return bitcast<f32>(w[(ro >> 2u) + i]); }
