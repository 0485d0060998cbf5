// A map op: the element program (SPEC 6.3.3) interpreted per output element.
// Constants come from the program buffer as bit patterns, never as literals.
// params: [opaque zero, count, invocations per grid row, instructions, output
//          source kind, output source value, rank, inputs,
//          out_shape[8], then per input: offset into xs, strides[8]]
// prog: 7 words per instruction: opcode, then (kind, value) per operand;
//       kind 0 = constant bits, 1 = input number, 2 = earlier step.

const MAX_STEPS: u32 = 512u;
const SHAPE: u32 = 8u;
const INPUTS: u32 = 16u;

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> prog: array<u32>;
@group(0) @binding(2) var<storage, read> xs: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

var<private> regs: array<u32, MAX_STEPS>;
var<private> ins: array<u32, 4>;

fn operand(kind: u32, v: u32) -> u32 {
    switch kind {
        case 0u: { return v; }
        case 1u: { return ins[v]; }
        default: { return regs[v]; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    OPAQUE = params[0];
    let e = gid.x + gid.y * params[2];
    if (e >= params[1]) { return; }
    let rank = params[6];
    let n_in = params[7];
    for (var k = 0u; k < n_in; k = k + 1u) {
        let at = INPUTS + k * (SHAPE + 1u);
        var rest = e;
        var idx = params[at];
        for (var d = rank; d > 0u; d = d - 1u) {
            let dim = params[SHAPE + d - 1u];
            idx = idx + (rest % dim) * params[at + d];
            rest = rest / dim;
        }
        ins[k] = xs[idx];
    }
    let n = params[3];
    for (var s = 0u; s < n; s = s + 1u) {
        let w = 7u * s;
        regs[s] = eval_prim(
            prog[w],
            operand(prog[w + 1u], prog[w + 2u]),
            operand(prog[w + 3u], prog[w + 4u]),
            operand(prog[w + 5u], prog[w + 6u]),
        );
    }
    out[e] = operand(params[4], params[5]);
}
