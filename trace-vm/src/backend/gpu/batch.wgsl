// One primitive per invocation: the batch interface and the self-test.
// params: [opaque zero, count, invocations per row of the dispatch grid]
// ops: 4 words per operation (opcode, a, b, c).

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> ops: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    OPAQUE = params[0];
    let i = gid.x + gid.y * params[2];
    if (i >= params[1]) { return; }
    let o = 4u * i;
    out[i] = eval_prim(ops[o], ops[o + 1u], ops[o + 2u], ops[o + 3u]);
}
