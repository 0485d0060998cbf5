// Canonical reduction along one axis (SPEC 2): 8 interleaved lanes, then the
// fixed tree. Output element e reduces x[(e / inner) * len * inner + j * inner + e % inner].
// params: [opaque zero, count, invocations per grid row, len, inner, opcode, lane init]

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    OPAQUE = params[0];
    let e = gid.x + gid.y * params[2];
    if (e >= params[1]) { return; }
    let len = params[3];
    let inner = params[4];
    let op = params[5];
    let init = params[6];
    let base = (e / inner) * len * inner + e % inner;
    var acc = array<u32, 8>(init, init, init, init, init, init, init, init);
    for (var j = 0u; j < len; j = j + 1u) {
        let l = j % 8u;
        acc[l] = eval_prim(op, acc[l], x[base + j * inner], 0u);
    }
    out[e] = lane_tree(op, acc);
}
