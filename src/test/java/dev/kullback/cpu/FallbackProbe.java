package dev.kullback.cpu;

import dev.kullback.Tensor;
import java.util.Arrays;

/** Run in a JVM without {@code --add-modules jdk.incubator.vector} by {@link CpuDeviceTest}. */
public final class FallbackProbe {
    public static void main(String[] args) {
        try (CpuDevice a = new CpuDevice(); CpuDevice b = new CpuDevice(2, true);
             Tensor x = a.upload(new float[] {1000, 0, -1000}, 1, 3); Tensor y = a.logSoftmax(x)) {
            System.out.println("name=" + a.name());
            System.out.println("second=" + b.name());
            System.out.println("logSoftmax=" + Arrays.toString(y.toArray()));
        }
    }
}
