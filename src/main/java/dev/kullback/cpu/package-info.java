/**
 * The CPU implementation: {@link dev.kullback.cpu.CpuDevice} and its {@link dev.kullback.cpu.CpuTensor}.
 *
 * <p>Inner loops live behind the package-private {@code Kernels} interface, after Apache Lucene's
 * {@code internal/vectorization}: {@code ScalarKernels} (plain Java, always available) and {@code PanamaKernels} (the
 * JDK Vector API, {@code jdk.incubator.vector}), which {@code KernelsProvider} loads only when the module is present
 * and usable, logging the reason of any fallback once (System.Logger {@code dev.kullback.cpu}).
 * {@code -Dkullback.cpu.vector=false} forces the scalar kernels; {@code -Dkullback.cpu.threads=N} sets the threads of
 * {@code new CpuDevice()}.
 */
package dev.kullback.cpu;
