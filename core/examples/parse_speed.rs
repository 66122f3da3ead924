fn main() {
    use openclaw_core::domain::{PhoneNumber, SegmentInfo};
    let n = 20_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(PhoneNumber::parse("+14155552671").unwrap());
    }
    println!("phone parse: {:?}/op", t.elapsed() / n);
    let t = std::time::Instant::now();
    for i in 0..n {
        std::hint::black_box(SegmentInfo::of(&format!("benchmark message {i}")));
    }
    println!("segments: {:?}/op", t.elapsed() / n);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(openclaw_core::crypto::hash_token(
            "oc_live_abcdefghijklmnopqrstuvwx",
        ));
    }
    println!("sha256: {:?}/op", t.elapsed() / n);
}
