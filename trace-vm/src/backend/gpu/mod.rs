//! The GPU backend (wgpu, Vulkan), bit-identical to the CPU path.
//!
//! Nothing about the adapter's float arithmetic is assumed. At start-up
//! [`selftest`] runs every primitive with a float instruction through the
//! native instruction and through an exact integer emulation (u32 pairs for
//! the 64-bit intermediates: WGSL has no u64) on cases aimed at ties,
//! subnormal boundaries, fused-vs-unfused products, NaN, ±0, division and
//! square root; each primitive then uses the native instruction only when it
//! matched the reference on every case. The choice is logged and shown by
//! `refute vm backends`.
//!
//! The shaders never see a foldable float literal: operands and the
//! constants of element programs arrive as u32 words in buffers and are
//! `bitcast` to f32, and every native float result is XOR-ed with a zero
//! loaded at run time, so the compiler can neither fold constants nor
//! contract a product into a following add.
//!
//! On the GPU: `matmul` (one invocation per output element, the canonical 8
//! lanes and tree), `map` (the element program of SPEC 6.3.3 interpreted per
//! element; transcendentals are such programs, never GPU builtins) and
//! `reduce`. The other ops are data movement or short sequential scans
//! (argmax, sample, dequant, gather, mask, layout), or a matmul reading
//! quantized weights in place, and run on the host with the CPU backend,
//! whose output is canonical by its own tests.

pub mod selftest;

use std::sync::{Arc, mpsc};

use wgpu::util::DeviceExt;

use crate::arith::{Fast, NEG_INF, POS_INF, POS_ZERO, Prim, Src};
use crate::commit::DType;
use crate::error::{Error, Result};
use crate::ops::layout::{AxisGeom, MatMulGeom, broadcast_strides};
use crate::ops::{Desc, MapFn, Op};
use crate::tensor::Tensor;

use super::{Backend, Cpu};
pub use selftest::{Choice, Impl};

const PRIMS_WGSL: &str = include_str!("prims.wgsl");
const BATCH_WGSL: &str = include_str!("batch.wgsl");
const MATMUL_WGSL: &str = include_str!("matmul.wgsl");
const MAP_WGSL: &str = include_str!("map.wgsl");
const REDUCE_WGSL: &str = include_str!("reduce.wgsl");

/// Invocations per workgroup (`@workgroup_size` of every kernel).
const GROUP: u32 = 64;
/// Most workgroups along one dispatch dimension (WebGPU limit).
const MAX_GROUPS: u32 = 65_535;
/// Longest element program `map.wgsl` holds (`MAX_STEPS`).
const MAX_STEPS: usize = 512;
/// Highest tensor rank `map.wgsl` indexes (`SHAPE`).
const MAX_RANK: usize = 8;
/// Offset of the per-input records in the map params (`INPUTS`).
const MAP_INPUTS: usize = 16;

/// How to get a Vulkan adapter where there is none.
const INSTALL_HINT: &str = "install a Vulkan driver; without a GPU, Mesa's software rasterizer lavapipe works \
     (Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1)";

/// A Vulkan adapter as listed by [`adapters`].
#[derive(Clone, Debug)]
pub struct AdapterInfo {
    /// Device name (`llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA H100`).
    pub name: String,
    /// `cpu`, `discrete`, `integrated`, `virtual` or `other`.
    pub kind: &'static str,
    /// Driver name and version.
    pub driver: String,
}

fn info_of(a: &wgpu::Adapter) -> AdapterInfo {
    let i = a.get_info();
    AdapterInfo {
        name: i.name,
        kind: match i.device_type {
            wgpu::DeviceType::Cpu => "cpu",
            wgpu::DeviceType::DiscreteGpu => "discrete",
            wgpu::DeviceType::IntegratedGpu => "integrated",
            wgpu::DeviceType::VirtualGpu => "virtual",
            wgpu::DeviceType::Other => "other",
        },
        driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
    }
}

fn vulkan_adapters() -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let mut list = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
    // Real GPUs first, software rasterizers last.
    list.sort_by_key(|a| match a.get_info().device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    });
    list
}

/// Every Vulkan adapter on this machine, preferred first.
pub fn adapters() -> Vec<AdapterInfo> {
    vulkan_adapters().iter().map(info_of).collect()
}

/// How the per-primitive choice between native and emulated is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Native where the self-test passed, emulated elsewhere.
    #[default]
    SelfTest,
    /// Emulate every float primitive whatever the self-test found: tests the
    /// emulations on adapters whose native instructions pass.
    EmulateAll,
}

/// One compiled kernel.
#[derive(Debug)]
struct Kernel {
    pipeline: wgpu::ComputePipeline,
}

/// An open device and what a dispatch needs to know about it.
#[derive(Debug)]
struct Device {
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// Largest storage binding (and buffer), bytes.
    max_binding: u64,
    /// Adapter name, for errors.
    name: String,
}

/// The GPU backend on one adapter, with the self-test's per-primitive choices.
#[derive(Debug)]
pub struct Gpu {
    dev: Device,
    info: AdapterInfo,
    choices: Vec<Choice>,
    batch: Kernel,
    matmul: Kernel,
    map: Kernel,
    reduce: Kernel,
    /// The CPU backend for the ops that stay on the host.
    host: Cpu<Fast>,
}

/// Which implementation each `p_*` function of the shaders calls.
fn dispatch_source(choose: impl Fn(Prim) -> Impl) -> String {
    let mut s = String::new();
    for &p in selftest::NATIVE_CANDIDATES {
        let params = ["a: u32", "b: u32", "c: u32"][..p.arity()].join(", ");
        let args = ["a", "b", "c"][..p.arity()].join(", ");
        let imp = match choose(p) {
            Impl::Native => "nat",
            _ => "emu",
        };
        s.push_str(&format!(
            "fn p_{p}({params}) -> u32 {{ return {imp}_{p}({args}); }}\n"
        ));
    }
    s.push_str("fn eval_prim(op: u32, a: u32, b: u32, c: u32) -> u32 {\n    switch op {\n");
    for &p in Prim::ALL {
        let args = ["a", "b", "c"][..p.arity()].join(", ");
        s.push_str(&format!(
            "        case {}u: {{ return p_{p}({args}); }}\n",
            p.opcode()
        ));
    }
    s.push_str("        default: { return CANON_NAN; }\n    }\n}\n");
    s
}

fn gpu_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Gpu(format!("{what}: {e}"))
}

impl Gpu {
    /// Open the preferred Vulkan adapter (or the first whose name contains
    /// `select`, case-insensitively), run the self-test and compile the kernels.
    pub fn open(select: Option<&str>) -> Result<Gpu> {
        Gpu::open_with(select, Policy::SelfTest)
    }

    /// [`Gpu::open`] with an explicit [`Policy`].
    pub fn open_with(select: Option<&str>, policy: Policy) -> Result<Gpu> {
        let list = vulkan_adapters();
        if list.is_empty() {
            return Err(Error::Gpu(format!(
                "no Vulkan adapter found; {INSTALL_HINT}"
            )));
        }
        let names: Vec<String> = list.iter().map(|a| a.get_info().name).collect();
        let adapter = match select {
            None => list.into_iter().next(),
            Some(want) => list.into_iter().find(|a| {
                a.get_info()
                    .name
                    .to_lowercase()
                    .contains(&want.to_lowercase())
            }),
        }
        .ok_or_else(|| {
            Error::Gpu(format!(
                "no Vulkan adapter name contains {:?}; the adapters are: {}",
                select.unwrap_or_default(),
                names.join(", ")
            ))
        })?;
        let info = info_of(&adapter);
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("refute-trace-vm"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| gpu_err(&format!("cannot open {}", info.name), e))?;
        device.on_uncaptured_error(Arc::new(|e: wgpu::Error| {
            tracing::error!(target: "refute::vm", error = %e, "uncaptured GPU error");
        }));
        let dev = Device {
            max_binding: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            name: info.name.clone(),
            device,
            queue,
        };
        // Self-test: the same cases through the all-native and the all-emulated batch kernel.
        let cases = selftest::cases();
        let ops: Vec<u32> = cases
            .iter()
            .flat_map(|c| [c.prim.opcode() as u32, c.args[0], c.args[1], c.args[2]])
            .collect();
        let native = dev.compile("self-test native", BATCH_WGSL, &|_| Impl::Native)?;
        let emulated = dev.compile("self-test emulated", BATCH_WGSL, &|_| Impl::Emulated)?;
        let nat = dev.run(&native, &mut [0; 3], &[&ops], cases.len())?;
        let emu = dev.run(&emulated, &mut [0; 3], &[&ops], cases.len())?;
        let mut choices = selftest::decide(&cases, &nat, &emu)?;
        if policy == Policy::EmulateAll {
            for c in choices.iter_mut().filter(|c| c.imp == Impl::Native) {
                c.imp = Impl::Emulated;
                c.reason = format!("emulation forced (native {})", c.reason);
            }
        }
        for c in &choices {
            if c.imp == Impl::Emulated {
                tracing::info!(target: "refute::vm", adapter = %info.name, prim = %c.prim,
                    reason = %c.reason, "gpu self-test: emulated");
            } else {
                tracing::debug!(target: "refute::vm", adapter = %info.name, prim = %c.prim,
                    imp = c.imp.name(), reason = %c.reason, "gpu self-test");
            }
        }
        let native: Vec<&str> = choices
            .iter()
            .filter(|c| c.imp == Impl::Native)
            .map(|c| c.prim.name())
            .collect();
        tracing::info!(target: "refute::vm", adapter = %info.name, native = %native.join(" "),
            "gpu self-test: native instructions (see `refute vm backends`)");
        let choose = |p: Prim| {
            choices
                .iter()
                .find(|c| c.prim == p)
                .map_or(Impl::Emulated, |c| c.imp)
        };
        Ok(Gpu {
            batch: dev.compile("batch", BATCH_WGSL, &choose)?,
            matmul: dev.compile("matmul", MATMUL_WGSL, &choose)?,
            map: dev.compile("map", MAP_WGSL, &choose)?,
            reduce: dev.compile("reduce", REDUCE_WGSL, &choose)?,
            dev,
            info,
            choices,
            host: Cpu::new(Fast),
        })
    }

    /// The adapter this backend runs on.
    pub fn adapter(&self) -> &AdapterInfo {
        &self.info
    }

    /// The self-test's decision for every primitive, in opcode order.
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// Evaluate many primitive operations in one dispatch: `out[i] = ops[i].0(ops[i].1)`.
    pub fn eval_many(&self, ops: &[(Prim, [u32; 3])]) -> Result<Vec<u32>> {
        let words: Vec<u32> = ops
            .iter()
            .flat_map(|(p, a)| [p.opcode() as u32, a[0], a[1], a[2]])
            .collect();
        // Stay within the largest binding: 16 bytes per operation.
        let per = (self.dev.max_binding / 16).max(1) as usize;
        let mut out = Vec::with_capacity(ops.len());
        for chunk in words.chunks(per * 4) {
            out.extend(
                self.dev
                    .run(&self.batch, &mut [0; 3], &[chunk], chunk.len() / 4)?,
            );
        }
        Ok(out)
    }

    fn matmul(&self, g: MatMulGeom, x: &[u32], y: &[u32]) -> Result<Vec<u32>> {
        let (m, n, k) = (g.m, g.n, g.k);
        let mut out = vec![0u32; g.batch * m * n];
        if out.is_empty() {
            return Ok(out);
        }
        // Rows of A and columns of B contiguous, as the CPU backend does.
        let a: Vec<u32> = (0..g.batch)
            .flat_map(|b| (0..m).flat_map(move |r| (0..k).map(move |i| (b, r, i))))
            .map(|(b, r, i)| x[g.a_index(b, r, i)])
            .collect();
        let nb = g.batch / g.group;
        // Split the columns so that B and the output each fit one binding.
        let words = (self.dev.max_binding / 4) as usize;
        let per = (words / (nb * k).max(1)).min(words / (g.batch * m).max(1));
        if per == 0 {
            return Err(Error::Gpu(format!(
                "matmul with k = {k} and {} rows does not fit the adapter's largest storage binding ({} bytes)",
                g.batch * m,
                self.dev.max_binding
            )));
        }
        for j0 in (0..n).step_by(per) {
            let nc = per.min(n - j0);
            let bt: Vec<u32> = (0..nb)
                .flat_map(|bb| (j0..j0 + nc).flat_map(move |j| (0..k).map(move |i| (bb, j, i))))
                .map(|(bb, j, i)| y[g.b_index(bb * g.group, i, j)])
                .collect();
            let mut params = [0, 0, 0, m as u32, nc as u32, k as u32, g.group as u32];
            let block = self
                .dev
                .run(&self.matmul, &mut params, &[&a, &bt], g.batch * m * nc)?;
            for (r, row) in block.chunks(nc).enumerate() {
                out[r * n + j0..r * n + j0 + nc].copy_from_slice(row);
            }
        }
        Ok(out)
    }

    fn map(
        &self,
        f: MapFn,
        xs: &[&[u32]],
        shapes: &[&[usize]],
        out_shape: &[usize],
    ) -> Result<Vec<u32>> {
        let total: usize = out_shape.iter().product();
        let rank = out_shape.len();
        let prog = f.program();
        let label = format!("map {}", f.name());
        if rank > MAX_RANK || prog.instrs.len() > MAX_STEPS {
            return Err(Error::Op {
                op: label,
                msg: format!(
                    "the GPU map kernel takes rank <= {MAX_RANK} and programs of <= {MAX_STEPS} steps \
                     (got rank {rank}, {} steps); run it on the CPU backend",
                    prog.instrs.len()
                ),
            });
        }
        let src = |s: Src| match s {
            Src::Const(c) => [0, c],
            Src::Input(k) => [1, k as u32],
            Src::Step(k) => [2, k as u32],
        };
        let code: Vec<u32> = prog
            .instrs
            .iter()
            .flat_map(|ins| {
                let [s0, s1, s2] = ins.srcs.map(src);
                [
                    ins.prim.opcode() as u32,
                    s0[0],
                    s0[1],
                    s1[0],
                    s1[1],
                    s2[0],
                    s2[1],
                ]
            })
            .collect();
        let mut params = vec![0u32; MAP_INPUTS + xs.len() * (MAX_RANK + 1)];
        let out_src = src(prog.output);
        params[3] = prog.instrs.len() as u32;
        params[4] = out_src[0];
        params[5] = out_src[1];
        params[6] = rank as u32;
        params[7] = xs.len() as u32;
        for (d, &n) in out_shape.iter().enumerate() {
            params[MAX_RANK + d] = n as u32;
        }
        let mut all = Vec::with_capacity(xs.iter().map(|x| x.len()).sum());
        for (k, (x, s)) in xs.iter().zip(shapes).enumerate() {
            let at = MAP_INPUTS + k * (MAX_RANK + 1);
            params[at] = all.len() as u32;
            for (d, st) in broadcast_strides(s, rank).into_iter().enumerate() {
                params[at + 1 + d] = st as u32;
            }
            all.extend_from_slice(x);
        }
        self.dev.run(&self.map, &mut params, &[&code, &all], total)
    }

    fn reduce(&self, prim: Prim, g: AxisGeom, x: &[u32], n_out: usize) -> Result<Vec<u32>> {
        let init = match prim {
            Prim::Add => POS_ZERO,
            Prim::Max => NEG_INF,
            Prim::Min => POS_INF,
            other => return Err(Error::NotReduction(other)),
        };
        let mut params = [
            0,
            0,
            0,
            g.len as u32,
            g.inner.max(1) as u32,
            prim.opcode() as u32,
            init,
        ];
        self.dev.run(&self.reduce, &mut params, &[x], n_out)
    }
}

impl Device {
    /// Run `kernel` over `count` invocations. `params` starts with three
    /// slots this fills: the opaque zero, the count and the grid row width.
    fn run(
        &self,
        kernel: &Kernel,
        params: &mut [u32],
        inputs: &[&[u32]],
        count: usize,
    ) -> Result<Vec<u32>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let groups = (count as u64).div_ceil(GROUP as u64);
        let gx = groups.min(MAX_GROUPS as u64) as u32;
        let gy = groups.div_ceil(gx as u64);
        if gy > MAX_GROUPS as u64 || count > u32::MAX as usize {
            return Err(Error::Gpu(format!(
                "{count} outputs in one dispatch are more than the GPU backend supports; split the op"
            )));
        }
        params[0] = 0;
        params[1] = count as u32;
        params[2] = gx * GROUP;
        let out_bytes = count as u64 * 4;
        for (what, bytes) in inputs
            .iter()
            .map(|i| ("an input", i.len() as u64 * 4))
            .chain([("the output", out_bytes)])
        {
            if bytes > self.max_binding {
                return Err(Error::Gpu(format!(
                    "{what} of {bytes} bytes exceeds the adapter's largest storage binding ({} bytes) on {}",
                    self.max_binding, self.name
                )));
            }
        }
        let d = &self.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let storage = |data: &[u32]| {
            // Zero-sized bindings are invalid: an empty input is one unused word.
            let data: &[u32] = if data.is_empty() { &[0] } else { data };
            d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let mut buffers = vec![storage(params)];
        buffers.extend(inputs.iter().map(|i| storage(i)));
        let out = d.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: out_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = d.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .chain([&out])
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &kernel.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(gx, gy as u32, 1);
        }
        enc.copy_buffer_to_buffer(&out, 0, &read, 0, out_bytes);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = mpsc::channel();
        read.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        d.poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| gpu_err("waiting for the GPU", e))?;
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(gpu_err("GPU validation", e));
        }
        rx.recv()
            .map_err(|e| gpu_err("reading back the result", e))?
            .map_err(|e| gpu_err("reading back the result", e))?;
        let view = read
            .slice(..)
            .get_mapped_range()
            .map_err(|e| gpu_err("reading back the result", e))?;
        Ok(bytemuck::cast_slice(&view).to_vec())
    }

    /// Compile `kernel` with the primitives and the `p_*` choices of `choose`.
    fn compile(&self, label: &str, kernel: &str, choose: &dyn Fn(Prim) -> Impl) -> Result<Kernel> {
        let device = &self.device;
        let source = format!("{PRIMS_WGSL}\n{}\n{kernel}", dispatch_source(choose));
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(gpu_err(&format!("compiling the {label} kernel"), e));
        }
        Ok(Kernel { pipeline })
    }
}

impl Backend for Gpu {
    fn name(&self) -> String {
        format!("gpu ({})", self.info.name)
    }

    fn run(&self, op: &Op, inputs: &[&Tensor]) -> Result<Tensor> {
        let descs: Vec<Desc<'_>> = inputs.iter().map(|t| (t.dtype(), t.shape())).collect();
        // The shape rules alone: a `Site` would also record a map's program.
        let (out_dtype, out_shape) = op.infer(&descs)?;
        let w = |k: usize| inputs[k].words(op.input_name(k));
        let words = match op {
            // A matmul reading quantized weights in place dequantizes small
            // panels of B inside the CPU kernel; the GPU kernel reads F32 only.
            Op::MatMul { .. } if inputs[1].dtype() != DType::F32 => {
                return self.host.run(op, inputs);
            }
            Op::MatMul { .. } => self.matmul(
                op.matmul_geom(inputs[0].shape(), inputs[1].shape())?,
                w(0)?,
                w(1)?,
            )?,
            Op::Map(f) => {
                let xs = (0..inputs.len()).map(w).collect::<Result<Vec<_>>>()?;
                let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
                self.map(*f, &xs, &shapes, &out_shape)?
            }
            Op::Reduce { prim, axis } => {
                let g = AxisGeom::new(inputs[0].shape(), *axis);
                self.reduce(*prim, g, w(0)?, out_shape.iter().product())?
            }
            _ => return self.host.run(op, inputs),
        };
        Tensor::from_words(out_dtype, &out_shape, words)
    }
}
