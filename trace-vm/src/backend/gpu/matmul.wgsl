// out[b, i, j] = canonical dot product of A[b, i, :] and Bt[b / group, j, :]
// (SPEC 2: 8 interleaved fma lanes from +0, then the fixed add tree).
// params: [opaque zero, count, invocations per grid row, m, n, k, group]

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> bt: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    OPAQUE = params[0];
    let e = gid.x + gid.y * params[2];
    if (e >= params[1]) { return; }
    let m = params[3];
    let n = params[4];
    let k = params[5];
    let j = e % n;
    let row = e / n;
    let b = row / m;
    let ra = row * k;
    let rb = ((b / params[6]) * n + j) * k;
    var acc = array<u32, 8>(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
    for (var t = 0u; t < k; t = t + 1u) {
        let l = t % 8u;
        acc[l] = p_fma(a[ra + t], bt[rb + t], acc[l]);
    }
    out[e] = lane_tree(1u, acc);
}
