/// The BPF programs compiled into this binary. The BPFBuild plugin compiles
/// `bpf/<name>.c` during the build and adds one base64 `static let <name>`
/// per program in generated extensions of this type.
enum BPFObjects {}
