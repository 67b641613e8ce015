package dev.kullback;

import dev.kullback.OutputTensorTest.Op;
import dev.kullback.cpu.CpuDevice;
import java.lang.management.ManagementFactory;

/**
 * For {@link OutputTensorTest#aLoopIntoOutputsAllocatesNoLargeHeapArraysOnTheCpu}, in a fresh JVM: every op into an
 * output on a 1-thread CPU device (everything it allocates is this thread's), warmed up until C2 has compiled the
 * vector loops, then the bytes this thread allocates per call, one line {@code perCall OP BYTES} per op.
 */
public final class OutputAllocationProbe {
    private OutputAllocationProbe() {
    }

    public static void main(String[] args) {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (CpuDevice cpu = new CpuDevice(1)) {
            for (Op op : Op.values()) {
                Tensor[] in = OutputTensorTest.inputs(cpu, op);
                try {
                    for (int i = 0; i < 5000; i++) { // interpreted, the vector loops box; -Xbatch: compiled by now
                        op.into.apply(cpu, in);
                    }
                    long before = threads.getCurrentThreadAllocatedBytes();
                    int calls = 50;
                    for (int i = 0; i < calls; i++) {
                        op.into.apply(cpu, in);
                    }
                    System.out.println("perCall " + op + " " + (threads.getCurrentThreadAllocatedBytes() - before) / calls);
                } finally {
                    OutputTensorTest.closeAll(in);
                }
            }
        }
    }
}
