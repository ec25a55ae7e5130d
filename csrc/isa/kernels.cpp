// kernels(isa): the one place that maps a CPU path to its kernel table.
#include "kernels.h"

namespace nk {

const CpuKernels& kernels(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512_kernels();
    case Isa::avx2: return avx2_kernels();
    default: return generic_kernels();
  }
}

}  // namespace nk
