//! The ONNX node conformance tests (`libonnx-testdata`, installed under
//! `onnx-testdata/node`) through the ONNX compiler: every test whose graph
//! the compiler accepts must reproduce the reference outputs within the
//! tolerance of ONNX's backend test runner (`rtol = 1e-3`, `atol = 1e-7`),
//! and the set of accepted tests is pinned so coverage cannot shrink
//! silently.

mod format_common;

use trace_vm::arith::{Fast, Reference};
use trace_vm::backend::Cpu;
use trace_vm::format::onnx::{ConformanceCase, OnnxTensor, conformance_cases};
use trace_vm::onnx::{self, Compiled};
use trace_vm::tensor::Tensor;

const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-7;

/// Compile a case for its reference input shapes and feed its inputs.
fn prepare(case: &ConformanceCase) -> Result<(Compiled, Vec<Tensor>), String> {
    let shapes: Vec<Vec<usize>> = case.inputs.iter().map(|t| t.shape.clone()).collect();
    let compiled = onnx::compile(&case.model, &shapes).map_err(|e| e.to_string())?;
    let inputs = case
        .inputs
        .iter()
        .map(onnx::vm_tensor)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((compiled, inputs))
}

/// Compare one output against its reference; `Err` describes the first mismatch.
fn check(got: &Tensor, want: &OnnxTensor) -> Result<(), String> {
    let want_vm = onnx::vm_tensor(want).map_err(|e| e.to_string())?;
    if got.shape() != want_vm.shape() {
        return Err(format!(
            "shape {:?}, want {:?}",
            got.shape(),
            want_vm.shape()
        ));
    }
    if got.dtype() != want_vm.dtype() {
        return Err(format!(
            "dtype {:?}, want {:?}",
            got.dtype(),
            want_vm.dtype()
        ));
    }
    let (g, w) = (
        got.words("got").map_err(|e| e.to_string())?,
        want_vm.words("want").map_err(|e| e.to_string())?,
    );
    for (i, (&a, &b)) in g.iter().zip(w).enumerate() {
        let ok = match got.dtype() {
            trace_vm::commit::DType::F32 => {
                let (x, y) = (f64::from(f32::from_bits(a)), f64::from(f32::from_bits(b)));
                (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= ATOL + RTOL * y.abs()
            }
            _ => a == b,
        };
        if !ok {
            return Err(format!(
                "element {i}: got {} want {}",
                f32::from_bits(a),
                f32::from_bits(b)
            ));
        }
    }
    Ok(())
}

/// Name prefixes of the tests also run on the reference backend.
const REFERENCE_SAMPLE: &[&str] = &[
    "test_conv",
    "test_basic_conv",
    "test_maxpool",
    "test_averagepool",
    "test_global",
    "test_softmax_axis_0",
    "test_layer_normalization_4d",
];

/// Accepted tests whose inputs the VM refuses when run (an error, never a
/// wrong value): Gather indices computed at run time must be non-negative.
const REFUSED_AT_RUN: &[&str] = &["test_gather_negative_indices"];

/// The conformance tests the compiler accepts (all of which must pass).
const COVERED: &[&str] = &[
    "test_abs",
    "test_add",
    "test_add_bcast",
    "test_argmax_keepdims_example",
    "test_argmax_negative_axis_keepdims_example",
    "test_argmax_negative_axis_keepdims_random",
    "test_argmax_no_keepdims_example",
    "test_averagepool_1d_default",
    "test_averagepool_2d_ceil",
    "test_averagepool_2d_default",
    "test_averagepool_2d_pads",
    "test_averagepool_2d_pads_count_include_pad",
    "test_averagepool_2d_precomputed_pads",
    "test_averagepool_2d_precomputed_pads_count_include_pad",
    "test_averagepool_2d_precomputed_same_upper",
    "test_averagepool_2d_precomputed_strides",
    "test_averagepool_2d_same_lower",
    "test_averagepool_2d_same_upper",
    "test_averagepool_2d_strides",
    "test_averagepool_3d_default",
    "test_basic_conv_with_padding",
    "test_basic_conv_without_padding",
    "test_concat_1d_axis_0",
    "test_concat_1d_axis_negative_1",
    "test_concat_2d_axis_0",
    "test_concat_2d_axis_1",
    "test_concat_2d_axis_negative_1",
    "test_concat_2d_axis_negative_2",
    "test_concat_3d_axis_0",
    "test_concat_3d_axis_1",
    "test_concat_3d_axis_2",
    "test_concat_3d_axis_negative_1",
    "test_concat_3d_axis_negative_2",
    "test_concat_3d_axis_negative_3",
    "test_constant",
    "test_conv_with_autopad_same",
    "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding",
    "test_div",
    "test_div_bcast",
    "test_div_example",
    "test_erf",
    "test_exp",
    "test_exp_example",
    "test_flatten_axis0",
    "test_flatten_axis1",
    "test_flatten_axis2",
    "test_flatten_axis3",
    "test_flatten_default_axis",
    "test_flatten_negative_axis1",
    "test_flatten_negative_axis2",
    "test_flatten_negative_axis3",
    "test_flatten_negative_axis4",
    "test_gather_0",
    "test_gemm_all_attributes",
    "test_gemm_alpha",
    "test_gemm_beta",
    "test_gemm_default_matrix_bias",
    "test_gemm_default_no_bias",
    "test_gemm_default_scalar_bias",
    "test_gemm_default_single_elem_vector_bias",
    "test_gemm_default_vector_bias",
    "test_gemm_default_zero_bias",
    "test_gemm_transposeA",
    "test_gemm_transposeB",
    "test_globalaveragepool",
    "test_globalaveragepool_precomputed",
    "test_globalmaxpool",
    "test_globalmaxpool_precomputed",
    "test_layer_normalization_2d_axis0_expanded",
    "test_layer_normalization_2d_axis1_expanded",
    "test_layer_normalization_3d_axis0_epsilon_expanded",
    "test_layer_normalization_3d_axis1_epsilon_expanded",
    "test_layer_normalization_3d_axis2_epsilon_expanded",
    "test_layer_normalization_4d_axis0_expanded",
    "test_layer_normalization_4d_axis1_expanded",
    "test_layer_normalization_4d_axis2_expanded",
    "test_layer_normalization_4d_axis3_expanded",
    "test_matmul_2d",
    "test_matmul_3d",
    "test_matmul_4d",
    "test_max_float32",
    "test_max_two_inputs",
    "test_maxpool_1d_default",
    "test_maxpool_2d_ceil",
    "test_maxpool_2d_default",
    "test_maxpool_2d_dilations",
    "test_maxpool_2d_pads",
    "test_maxpool_2d_precomputed_pads",
    "test_maxpool_2d_precomputed_same_upper",
    "test_maxpool_2d_precomputed_strides",
    "test_maxpool_2d_same_lower",
    "test_maxpool_2d_same_upper",
    "test_maxpool_2d_strides",
    "test_maxpool_3d_default",
    "test_min_float32",
    "test_min_two_inputs",
    "test_mul",
    "test_mul_bcast",
    "test_mul_example",
    "test_mvn_expanded",
    "test_neg",
    "test_neg_example",
    "test_reciprocal",
    "test_reciprocal_example",
    "test_reduce_max_default_axes_keepdim_example",
    "test_reduce_max_default_axes_keepdims_random",
    "test_reduce_max_do_not_keepdims_example",
    "test_reduce_max_do_not_keepdims_random",
    "test_reduce_max_keepdims_example",
    "test_reduce_max_keepdims_random",
    "test_reduce_max_negative_axes_keepdims_example",
    "test_reduce_max_negative_axes_keepdims_random",
    "test_reduce_mean_default_axes_keepdims_example",
    "test_reduce_mean_default_axes_keepdims_random",
    "test_reduce_mean_do_not_keepdims_example",
    "test_reduce_mean_do_not_keepdims_random",
    "test_reduce_mean_keepdims_example",
    "test_reduce_mean_keepdims_random",
    "test_reduce_mean_negative_axes_keepdims_example",
    "test_reduce_mean_negative_axes_keepdims_random",
    "test_reduce_min_default_axes_keepdims_example",
    "test_reduce_min_default_axes_keepdims_random",
    "test_reduce_min_do_not_keepdims_example",
    "test_reduce_min_do_not_keepdims_random",
    "test_reduce_min_keepdims_example",
    "test_reduce_min_keepdims_random",
    "test_reduce_min_negative_axes_keepdims_example",
    "test_reduce_min_negative_axes_keepdims_random",
    "test_relu",
    "test_shape",
    "test_shape_clip_end",
    "test_shape_clip_start",
    "test_shape_end_1",
    "test_shape_end_negative_1",
    "test_shape_example",
    "test_shape_start_1",
    "test_shape_start_1_end_2",
    "test_shape_start_1_end_negative_1",
    "test_shape_start_negative_1",
    "test_sigmoid",
    "test_sigmoid_example",
    "test_size",
    "test_size_example",
    "test_softmax_axis_0",
    "test_softmax_axis_0_expanded",
    "test_softmax_axis_1",
    "test_softmax_axis_1_expanded",
    "test_softmax_axis_2",
    "test_softmax_axis_2_expanded",
    "test_softmax_default_axis",
    "test_softmax_default_axis_expanded",
    "test_softmax_example",
    "test_softmax_example_expanded",
    "test_softmax_large_number",
    "test_softmax_large_number_expanded",
    "test_softmax_negative_axis",
    "test_softmax_negative_axis_expanded",
    "test_sqrt",
    "test_sqrt_example",
    "test_sub",
    "test_sub_bcast",
    "test_sub_example",
    "test_tanh",
    "test_tanh_example",
    "test_transpose_all_permutations_0",
    "test_transpose_all_permutations_1",
    "test_transpose_all_permutations_2",
    "test_transpose_all_permutations_3",
    "test_transpose_all_permutations_4",
    "test_transpose_all_permutations_5",
    "test_transpose_default",
    "test_unsqueeze_axis_3",
];

#[test]
fn node_conformance_tests_match_their_references() {
    let Some(root) = format_common::installed("onnx-testdata/node") else {
        return;
    };
    let backend = Cpu::new(Fast);
    let reference = Cpu::new(Reference);
    let mut compared = 0;
    let mut covered = Vec::new();
    let mut failures = Vec::new();
    let mut refused = Vec::new();
    for dir in conformance_cases(&root).expect("test directories are listed") {
        let Ok(case) = ConformanceCase::open(&dir) else {
            continue;
        };
        let Ok((compiled, inputs)) = prepare(&case) else {
            continue;
        };
        let result = compiled
            .run(&backend, &inputs)
            .map_err(|e| e.to_string())
            .and_then(|run| {
                if run.outputs.len() != case.outputs.len() {
                    return Err(format!(
                        "{} outputs, want {}",
                        run.outputs.len(),
                        case.outputs.len()
                    ));
                }
                run.outputs
                    .iter()
                    .zip(&case.outputs)
                    .try_for_each(|(g, w)| check(g, w))
            });
        // Conv and pooling are new compositions: their traces must be the
        // same on the reference backend.
        let result = result.and_then(|()| {
            if !REFERENCE_SAMPLE.iter().any(|p| case.name.starts_with(p)) {
                return Ok(());
            }
            let fast = compiled.run(&backend, &inputs).map_err(|e| e.to_string())?;
            let slow = compiled
                .run(&reference, &inputs)
                .map_err(|e| e.to_string())?;
            compared += 1;
            if fast.trace_root == slow.trace_root {
                Ok(())
            } else {
                Err("fast and reference trace roots differ".into())
            }
        });
        match result {
            Err(e) if REFUSED_AT_RUN.contains(&case.name.as_str()) => {
                refused.push(case.name.clone());
                eprintln!("{}: refused at run time as expected: {e}", case.name);
            }
            Ok(()) => covered.push(case.name.clone()),
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    eprintln!("covered ({}): {covered:?}", covered.len());
    assert!(
        failures.is_empty(),
        "{} accepted tests fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(refused, REFUSED_AT_RUN);
    assert_eq!(covered.len(), 174);
    assert_eq!(compared, 41, "tests run on both backends");
    assert_eq!(
        covered, COVERED,
        "the set of covered conformance tests changed"
    );
}
