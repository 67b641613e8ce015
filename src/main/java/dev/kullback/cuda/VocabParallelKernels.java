package dev.kullback.cuda;

import dev.kullback.internal.VocabPass;

/** Launches the kernels of {@code kernels/vocab_parallel.cu}: the three passes of a vocabulary-parallel loss. */
final class VocabParallelKernels {
    private static final String MODULE = "vocab_parallel";

    private final Gpu gpu;
    private final Gpu.Function maxWarp;
    private final Gpu.Function maxBlock;
    private final Gpu.Function sumsWarp;
    private final Gpu.Function sumsBlock;
    private final Gpu.Function writeWarp;
    private final Gpu.Function writeBlock;

    VocabParallelKernels(Gpu gpu) {
        this.gpu = gpu;
        maxWarp = gpu.function(MODULE, "vp_max_warp");
        maxBlock = gpu.function(MODULE, "vp_max_block");
        sumsWarp = gpu.function(MODULE, "vp_sums_warp");
        sumsBlock = gpu.function(MODULE, "vp_sums_block");
        writeWarp = gpu.function(MODULE, "vp_write_warp");
        writeBlock = gpu.function(MODULE, "vp_write_block");
    }

    private static long addressOf(CudaTensor t) {
        return t == null ? 0L : t.address();
    }

    private static long addressOf(CudaLabels labels) {
        return labels == null ? 0L : labels.address();
    }

    /** The kernels' loss numbering (VP_CE ...), the enum's order. */
    private static int kind(VocabPass pass) {
        return pass.kind().ordinal();
    }

    void max(VocabPass pass, CudaTensor a, CudaTensor b, CudaTensor maxes) {
        Launch.rowwise(gpu, maxWarp, maxBlock, a.rows(), pass.classes(), a.address(), addressOf(b), a.rows(), a.cols(),
                pass.classes(), maxes.address());
    }

    void sums(VocabPass pass, CudaTensor a, CudaTensor b, CudaLabels labels, CudaTensor maxes, CudaTensor sums) {
        Launch.rowwise(gpu, sumsWarp, sumsBlock, a.rows(), pass.classes(), kind(pass), a.address(), addressOf(b),
                addressOf(labels), pass.ignoreIndex(), a.rows(), a.cols(), pass.classes(), pass.offset(),
                pass.invTemperature(), maxes.address(), sums.address(), pass.sumWidth());
    }

    void write(VocabPass pass, CudaTensor a, CudaTensor b, CudaLabels labels, CudaTensor maxes, CudaTensor sums,
               CudaTensor grad, CudaTensor rowLoss) {
        Launch.rowwise(gpu, writeWarp, writeBlock, a.rows(), a.cols(), kind(pass), a.address(), addressOf(b),
                addressOf(labels), pass.ignoreIndex(), a.rows(), a.cols(), pass.classes(), pass.offset(),
                pass.vocabSize(), pass.invTemperature(), pass.smoothing(), pass.zLoss(), pass.lossScale(),
                pass.gradScale(), maxes.address(), sums.address(), pass.sumWidth(), grad.address(), rowLoss.address());
    }
}
