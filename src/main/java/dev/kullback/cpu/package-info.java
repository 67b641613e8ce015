/**
 * The CPU implementation: {@link dev.kullback.cpu.CpuDevice} and its {@link dev.kullback.cpu.CpuTensor}.
 *
 * <p>The layout mirrors the CUDA half (one {@code .cu} and one launcher per family over {@code kernels/rows.cuh}):
 * {@code RowSchedule} alone decides how rows and chunks of rows are spread over threads and combined in order; one
 * class per operation family ({@code CpuSoftmax}, {@code CpuKlDiv}, {@code CpuReductions}, {@code CpuDistillation},
 * {@code CpuCrossEntropy}, {@code CpuJsd}, {@code CpuEntropy}, {@code CpuKerasKl}, {@code CpuGaussianKl},
 * {@code CpuTvd}) holds only its phases ({@code RowPhases}: chunk statistics, row combine, write) over the shared
 * online-softmax statistics {@code SoftmaxStats}. A new loss is one such class plus a one-line hook in CpuDevice.
 *
 * <p>Inner loops live behind the package-private {@code Kernels} interface, after Apache Lucene's
 * {@code internal/vectorization}: {@code ScalarKernels} (plain Java, always available) and {@code PanamaKernels} (the
 * JDK Vector API, {@code jdk.incubator.vector}), which {@code KernelsProvider} loads only when the module is present
 * and usable, logging the reason of any fallback once (System.Logger {@code dev.kullback.cpu}).
 * {@code -Dkullback.cpu.vector=false} forces the scalar kernels; {@code -Dkullback.cpu.threads=N} sets the threads of
 * {@code new CpuDevice()}.
 */
package dev.kullback.cpu;
