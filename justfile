# Common tasks, cheapest checks first.

default: check

# Everything CI runs.
check: fmt-check clippy test

fmt-check:
    cargo fmt --all -- --check

clippy:
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, integration and doc tests.
test:
    cargo test --workspace

doctest:
    cargo test --workspace --doc

doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

examples:
    cargo build --workspace --examples --release

# The seed MNIST model on the bundled data (no download).
mnist *ARGS:
    cargo run --release --example mnist -- {{ARGS}}

# Per-crate line counts, so growth is visible in review.
loc:
    @for c in crates/*; do printf '%-20s %6s\n' "$c" "$(cat $c/src/*.rs $c/src/*/*.rs 2>/dev/null | wc -l)"; done
