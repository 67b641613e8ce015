package dev.kullback.cpu;

/**
 * The row-separable families that {@link RowBlocks} runs on a block, on one schedule: the device's own (blocks one
 * after another, each block's rows or chunks across the threads) or {@link #inline} ones (blocks across the threads,
 * each block run by the thread that holds it, by rows: a nested parallel call would run inline anyway, and by chunks
 * it would take the slower whole-tensor passes). Results do not depend on the schedule (see {@link RowSchedule}).
 */
record RowFamilies(CpuSoftmax softmax, CpuKlDiv klDiv, CpuCrossEntropy crossEntropy, CpuDistillation distillation) {
    /** A one-thread schedule: no helpers, every call runs on its caller. */
    private static final RowSchedule INLINE = new RowSchedule(new Workers(1, "kullback-cpu-inline"));

    static RowFamilies of(Kernels kernels, RowSchedule schedule, ArrayPool arrays) {
        return new RowFamilies(new CpuSoftmax(kernels, schedule), new CpuKlDiv(kernels, schedule),
                new CpuCrossEntropy(kernels, schedule), new CpuDistillation(kernels, schedule, arrays));
    }

    static RowFamilies inline(Kernels kernels, ArrayPool arrays) {
        return of(kernels, INLINE, arrays);
    }
}
