fn deq(ro: u32, i: u32) -> f32 { return wf16(ro + 2u * i); }
