# Common tasks, cheapest checks first.

default: check

# Everything CI runs.
check: fmt-check clippy doc test loom

fmt-check:
    cargo fmt --all -- --check

clippy:
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, integration and doc tests.
test:
    cargo test --workspace

# Every interleaving of the runtime executor's lock-free protocol (loom; about a minute).
loom:
    RUSTFLAGS="--cfg loom" cargo test -p keel-runtime --release --target-dir target/loom --lib loom_

# Default Keel against one thread and all CPUs, beside a busy loop (docs/performance.md).
bench-contention:
    scripts/bench-contention.sh

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

# The W3r gradient-explosion example: unprotected, clipped and rollback runs.
explosion:
    cargo run --release --example explosion

# Keel beside rust-autograd and Keras-on-JAX (docs/performance.md).
bench-peers:
    scripts/bench-peers.sh

# Keel's own benchmark of a peer workload: `just bench-keel w2`.
bench-keel WORKLOAD="w1":
    cargo run --release -p keel-bench -- {{WORKLOAD}}

# Criterion micro-benchmarks (matmul, dense, cross-entropy, Adam, whole steps).
bench:
    cargo bench --workspace
