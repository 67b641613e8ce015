package dev.kullback;

import dev.kullback.cpu.CpuTensorWrites;
import dev.kullback.cuda.CudaTensorWrites;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BinaryOperator;

/**
 * The collective seam in memory, for N ranks on N threads of one JVM: each call copies the rank's buffer to the host,
 * waits for every rank, reduces the N copies in rank order 0, 1, ..., N-1 (so the result is the same on every rank
 * and in every run, bit for bit), writes it back into the rank's buffer, and waits again before the slots are reused.
 * Counts the calls and floats each rank sends, to check the communication volume the losses promise.
 */
final class InMemoryAllReduce {
    private final int ranks;
    private final CyclicBarrier barrier;
    private final float[][] slots;
    private final AtomicLong calls = new AtomicLong();
    private final AtomicLong floats = new AtomicLong();
    private final List<String> ops = new ArrayList<>();

    InMemoryAllReduce(int ranks) {
        this.ranks = ranks;
        this.barrier = new CyclicBarrier(ranks);
        this.slots = new float[ranks][];
    }

    /** The seam as rank {@code rank} sees it. */
    AllReduce rank(int rank) {
        return new AllReduce() {
            @Override
            public void max(Tensor buffer) {
                reduce(rank, buffer, "max", Math::max);
            }

            @Override
            public void sum(Tensor buffer) {
                reduce(rank, buffer, "sum", Float::sum);
            }
        };
    }

    /** Calls made by rank 0. */
    long calls() {
        return calls.get();
    }

    /** Floats sent by rank 0. */
    long floats() {
        return floats.get();
    }

    /** "max" / "sum" of rank 0's calls, in order. */
    synchronized List<String> ops() {
        return List.copyOf(ops);
    }

    private void reduce(int rank, Tensor buffer, String op, BinaryOperator<Float> f) {
        float[] mine = buffer.toArray();
        if (rank == 0) {
            calls.incrementAndGet();
            floats.addAndGet(mine.length);
            synchronized (this) {
                ops.add(op);
            }
        }
        slots[rank] = mine;
        await();
        float[] out = slots[0].clone();
        for (int r = 1; r < ranks; r++) {
            if (slots[r].length != out.length) {
                throw new IllegalStateException("rank " + r + " sent " + slots[r].length + " floats, rank 0 "
                        + out.length);
            }
            for (int i = 0; i < out.length; i++) {
                out[i] = f.apply(out[i], slots[r][i]);
            }
        }
        await();
        if (CpuTensorWrites.owns(buffer)) {
            CpuTensorWrites.write(buffer, out);
        } else if (CudaTensorWrites.owns(buffer)) {
            CudaTensorWrites.write(buffer, out);
        } else {
            throw new IllegalStateException("no host access to " + buffer);
        }
    }

    private void await() {
        try {
            barrier.await(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted at the all-reduce barrier", e);
        } catch (BrokenBarrierException | TimeoutException e) {
            throw new IllegalStateException("another rank failed or never reached the all-reduce", e);
        }
    }
}
