//! The batch interface for differential testers.

use trace_vm::arith::{Fast, Reference};
use trace_vm::batch::run_batch;

fn run(input: &str, reference: bool) -> Result<(u64, String), String> {
    let mut out = Vec::new();
    let arith: &dyn trace_vm::batch::PrimBatch = if reference { &Reference } else { &Fast };
    let n = run_batch(input.as_bytes(), &mut out, arith).map_err(|e| e.to_string())?;
    Ok((n, String::from_utf8(out).map_err(|e| e.to_string())?))
}

#[test]
fn computes_each_line() {
    let input = "\
# a comment
add 3f800000 3f800000
sub 0x3f800000 0X40000000

mul 7f7fffff 40000000   # overflow
div 0 0
sqrt bf800000
fma 3f800001 3f800001 bf800002
max 80000000 00000000
min 80000000 00000000
add 1 1
\tMAX 7fc00001 3f800000
";
    for reference in [false, true] {
        let (n, out) = run(input, reference).unwrap();
        assert_eq!(n, 10);
        assert_eq!(
            out,
            "40000000\nbf800000\n7f800000\n7fc00000\n7fc00000\n28800000\n00000000\n80000000\n00000002\n7fc00000\n"
        );
    }
}

#[test]
fn errors_name_the_line_and_the_fix() {
    let cases = [
        (
            "add 3f800000\n",
            "line 1: add takes 2 operand(s), got 1; write `add A B`",
        ),
        ("\n\nfrob 1 2\n", "line 3: unknown primitive \"frob\""),
        (
            "add 3f80000g 1\n",
            "line 1: operand 1 \"3f80000g\" is not hexadecimal",
        ),
        ("sqrt 1 2\n", "line 1: sqrt takes 1 operand(s), got 2"),
        ("mul 123456789 1\n", "more than 8 hex digits"),
        ("fma 0x 1 2\n", "operand 1 \"0x\" is empty"),
    ];
    for (input, want) in cases {
        let e = run(input, false).unwrap_err();
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
    // results before the bad line are written
    let mut out = Vec::new();
    assert!(run_batch("add 0 0\nbad\n".as_bytes(), &mut out, &Fast).is_err());
    assert_eq!(out, b"00000000\n");
}

#[test]
fn large_batch_fast_equals_reference() {
    let mut s = String::new();
    let mut x: u32 = 1;
    for i in 0..20_000u32 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let y = x.rotate_left(13) ^ i;
        let op = ["add", "sub", "mul", "div", "sqrt", "fma", "max", "min"][(i % 8) as usize];
        match op {
            "sqrt" => s.push_str(&format!("{op} {x:08x}\n")),
            "fma" => s.push_str(&format!("{op} {x:08x} {y:08x} {:08x}\n", y ^ x)),
            _ => s.push_str(&format!("{op} {x:08x} {y:08x}\n")),
        }
    }
    assert_eq!(run(&s, false).unwrap(), run(&s, true).unwrap());
}
