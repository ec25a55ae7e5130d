"""
nnkernels CPU kernels (C++ with its own thread pool; generic, AVX2 or AVX-512 chosen at run time)
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['act_backward', 'act_forward', 'adam_step', 'adaptive_avg_pool2d_backward', 'adaptive_avg_pool2d_forward', 'attention_backward', 'attention_forward', 'avg_pool2d_backward', 'avg_pool2d_forward', 'bias_act', 'channel_sum', 'conv2d_backward_data', 'conv2d_backward_weight', 'conv2d_forward', 'cpu_features', 'cpu_isa', 'cpu_paths', 'cross_entropy_backward', 'cross_entropy_forward', 'cuda_built', 'embedding_backward', 'gemm', 'gemm_batched', 'gemm_kernel_name', 'gemm_ref', 'get_num_threads', 'get_spin_us', 'gru_backward', 'gru_forward', 'kernel_names', 'lstm_backward', 'lstm_forward', 'max_pool2d_backward', 'max_pool2d_forward', 'rnn_activation', 'set_cpu_isa', 'set_num_threads', 'set_spin_us', 'softmax_backward', 'softmax_forward']
def _runtime_check(rounds: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Runs `rounds` team regions with barriers and loops on the pool and returns how many checks failed (0 expected); for tests/test_threads.py
    """
def _thread_stats() -> dict:
    """
    Thread-pool counts since the last call (and resets them)
    """
def act_backward(grad_out: numpy.ndarray, v: numpy.ndarray, out: numpy.ndarray, act: typing.SupportsInt | typing.SupportsIndex, slope: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    out = grad_out * act'(v), v = x or y per activation
    """
def act_forward(x: numpy.ndarray, out: numpy.ndarray, act: typing.SupportsInt | typing.SupportsIndex, slope: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    out = act(x) over contiguous arrays (act code from ops/activations.py)
    """
def adam_step(param: numpy.ndarray, grad: numpy.ndarray, exp_avg: numpy.ndarray, exp_avg_sq: numpy.ndarray, max_exp_avg_sq: typing.Any, lr: typing.SupportsFloat | typing.SupportsIndex, beta1: typing.SupportsFloat | typing.SupportsIndex, beta2: typing.SupportsFloat | typing.SupportsIndex, eps: typing.SupportsFloat | typing.SupportsIndex, weight_decay: typing.SupportsFloat | typing.SupportsIndex, decoupled: bool, step: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    One fused Adam/AdamW step in place on param, exp_avg, exp_avg_sq (and max_exp_avg_sq)
    """
def adaptive_avg_pool2d_backward(grad_out: numpy.ndarray, out: numpy.ndarray, planes: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, P: typing.SupportsInt | typing.SupportsIndex, Q: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Gradient of adaptive average pooling
    """
def adaptive_avg_pool2d_forward(x: numpy.ndarray, out: numpy.ndarray, planes: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, P: typing.SupportsInt | typing.SupportsIndex, Q: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Adaptive average pooling (planes, H, W) -> (planes, P, Q)
    """
def attention_backward(q: numpy.ndarray, q_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], k: numpy.ndarray, k_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], v: numpy.ndarray, v_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], mask: typing.Any, mask_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], causal: bool, scale: typing.SupportsFloat | typing.SupportsIndex, grad_out: numpy.ndarray, out: numpy.ndarray, lse: numpy.ndarray, gq: numpy.ndarray, gk: numpy.ndarray, gv: numpy.ndarray) -> None:
    """
    Attention backward from the saved lse; gq must be zero on entry; all outputs contiguous
    """
def attention_forward(q: numpy.ndarray, q_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], k: numpy.ndarray, k_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], v: numpy.ndarray, v_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], mask: typing.Any, mask_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], causal: bool, scale: typing.SupportsFloat | typing.SupportsIndex, out: numpy.ndarray, lse: numpy.ndarray, reference: bool = False) -> None:
    """
    Fused attention forward: out (nb, Lq, Dv) and lse (nb, Lq), both contiguous
    """
def avg_pool2d_backward(grad_out: numpy.ndarray, out: numpy.ndarray, shape: tuple) -> None:
    """
    Gradient of average pooling
    """
def avg_pool2d_forward(x: numpy.ndarray, out: numpy.ndarray, shape: tuple) -> None:
    """
    Average pooling of (planes, H, W) into out (planes, P, Q)
    """
def bias_act(x: numpy.ndarray, bias: numpy.ndarray, out: numpy.ndarray, outer: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, inner: typing.SupportsInt | typing.SupportsIndex, act: typing.SupportsInt | typing.SupportsIndex, slope: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    out = act(x + bias) with x viewed as (outer, C, inner)
    """
def channel_sum(a: numpy.ndarray, out: numpy.ndarray) -> None:
    """
    out[c] := sum of a[:, c] for a C-contiguous (N, C, H, W) array (the bias gradient)
    """
def conv2d_backward_data(grad_out: numpy.ndarray, weight: numpy.ndarray, grad_x: numpy.ndarray, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_h: typing.SupportsInt | typing.SupportsIndex, pad_w: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, reference: bool = False) -> None:
    """
    grad_x := gradient of conv2d w.r.t. its input (grad_x (N, C, H, W) fixes the input size)
    """
def conv2d_backward_weight(grad_out: numpy.ndarray, x: numpy.ndarray, grad_weight: numpy.ndarray, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_h: typing.SupportsInt | typing.SupportsIndex, pad_w: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, reference: bool = False) -> None:
    """
    grad_weight := gradient of conv2d w.r.t. its weight
    """
def conv2d_forward(x: numpy.ndarray, weight: numpy.ndarray, bias: typing.Any, y: numpy.ndarray, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_h: typing.SupportsInt | typing.SupportsIndex, pad_w: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, reference: bool = False) -> None:
    """
    y := conv2d(x, weight) + bias, all C-contiguous; y (N, K, P, Q) fixes the output size
    """
def cpu_features() -> dict:
    """
    What CPUID and XCR0 report (avx512 = F/BW/VL/DQ with the zmm state enabled)
    """
def cpu_isa() -> str:
    """
    The CPU code path in use: 'generic', 'avx2' or 'avx512'
    """
def cpu_paths() -> list:
    """
    The CPU code paths this CPU can run, lowest first
    """
def cross_entropy_backward(logits: numpy.ndarray, target: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], grad_out: numpy.ndarray, gstride: typing.SupportsInt | typing.SupportsIndex, out: numpy.ndarray, label_smoothing: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    Gradient of the per-row cross-entropy; row i scaled by grad_out[i * gstride]
    """
def cross_entropy_forward(logits: numpy.ndarray, target: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], loss: numpy.ndarray, label_smoothing: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    Per-row cross-entropy of logits (N, C) against int64 targets (N)
    """
def embedding_backward(indices: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], grad: numpy.ndarray, num_embeddings: typing.SupportsInt | typing.SupportsIndex, padding_idx: typing.SupportsInt | typing.SupportsIndex = -1) -> numpy.ndarray:
    """
    grad of an embedding table (num_embeddings x D): rows of grad summed per index
    """
def gemm(a: numpy.ndarray, b: numpy.ndarray, out: numpy.ndarray, alpha: typing.SupportsFloat | typing.SupportsIndex, beta: typing.SupportsFloat | typing.SupportsIndex, trans_a: bool, trans_b: bool) -> None:
    """
    out := alpha*op(a) @ op(b) + beta*out (2-D, any strides for a and b)
    """
def gemm_batched(a: numpy.ndarray, a_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], b: numpy.ndarray, b_offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], out: numpy.ndarray, alpha: typing.SupportsFloat | typing.SupportsIndex, beta: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    Batched out[i] := alpha * a[off_a[i]] @ b[off_b[i]] + beta*out[i]
    """
def gemm_kernel_name(arg0: numpy.dtype[typing.Any]) -> str:
    """
    Name of the micro-kernel the current CPU path uses for this dtype
    """
def gemm_ref(a: numpy.ndarray, b: numpy.ndarray, out: numpy.ndarray, alpha: typing.SupportsFloat | typing.SupportsIndex = 1.0, beta: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
    """
    Naive reference GEMM (double accumulation), for tests
    """
def get_num_threads() -> int:
    ...
def get_spin_us() -> int:
    """
    How long idle kernel threads poll before they park (µs)
    """
def gru_backward(x: numpy.ndarray, h0: numpy.ndarray, w_ih: numpy.ndarray, w_hh: numpy.ndarray, y: numpy.ndarray, gates: numpy.ndarray, hn: numpy.ndarray, grad_y: typing.Any, grad_hT: typing.Any, gx: numpy.ndarray, gh0: numpy.ndarray, gw_ih: numpy.ndarray, gw_hh: numpy.ndarray, gb_ih: numpy.ndarray, gb_hh: numpy.ndarray) -> None:
    """
    GRU backward through time from the forward's saved arrays
    """
def gru_forward(x: numpy.ndarray, h0: numpy.ndarray, w_ih: numpy.ndarray, w_hh: numpy.ndarray, b_ih: numpy.ndarray, b_hh: numpy.ndarray, y: numpy.ndarray, gates: numpy.ndarray, hn: numpy.ndarray) -> None:
    """
    GRU over a sequence: fills y (T,B,H), gates (T,B,3H) and hn (T,B,H)
    """
def kernel_names(path: str = '') -> dict:
    """
    Which kernel each family uses on a path (default: the path in use)
    """
def lstm_backward(x: numpy.ndarray, h0: numpy.ndarray, c0: numpy.ndarray, w_ih: numpy.ndarray, w_hh: numpy.ndarray, y: numpy.ndarray, gates: numpy.ndarray, cs: numpy.ndarray, grad_y: typing.Any, grad_hT: typing.Any, grad_cT: typing.Any, gx: numpy.ndarray, gh0: numpy.ndarray, gc0: numpy.ndarray, gw_ih: numpy.ndarray, gw_hh: numpy.ndarray, gb: numpy.ndarray) -> None:
    """
    LSTM backward through time from the forward's saved arrays
    """
def lstm_forward(x: numpy.ndarray, h0: numpy.ndarray, c0: numpy.ndarray, w_ih: numpy.ndarray, w_hh: numpy.ndarray, bias: numpy.ndarray, y: numpy.ndarray, gates: numpy.ndarray, cs: numpy.ndarray) -> None:
    """
    LSTM over a sequence: fills y (T,B,H), gates (T,B,4H) and cell states cs (T,B,H)
    """
def max_pool2d_backward(grad_out: numpy.ndarray, indices: numpy.ndarray, out: numpy.ndarray, planes: typing.SupportsInt | typing.SupportsIndex, HW: typing.SupportsInt | typing.SupportsIndex, PQ: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Scatter-add grad_out at the flat indices; returns the count of out-of-range indices
    """
def max_pool2d_forward(x: numpy.ndarray, out: numpy.ndarray, indices: typing.Any, shape: tuple) -> None:
    """
    Max pooling of (planes, H, W) into out (planes, P, Q), flat indices optional
    """
def rnn_activation(x: numpy.ndarray, out: numpy.ndarray, which: str, path: str) -> None:
    """
    The vector sigmoid ('sigmoid') or tanh ('tanh') of the gate passes of CPU path `path` ('avx2', 'avx512'), for accuracy tests
    """
def set_cpu_isa(arg0: str) -> bool:
    """
    Select the CPU code path; returns False if this CPU cannot run it
    """
def set_num_threads(arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def set_spin_us(us: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def softmax_backward(grad_out: numpy.ndarray, y: numpy.ndarray, out: numpy.ndarray, outer: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, inner: typing.SupportsInt | typing.SupportsIndex, log: bool) -> None:
    """
    out = gradient of (log_)softmax from grad_out and the forward output y
    """
def softmax_forward(x: numpy.ndarray, out: numpy.ndarray, outer: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, inner: typing.SupportsInt | typing.SupportsIndex, log: bool) -> None:
    """
    out = (log_)softmax of x viewed as (outer, C, inner) along C
    """
cuda_built: bool = False
