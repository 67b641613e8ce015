package dev.kullback.shim;

import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Tensor;
import dev.kullback.cuda.CudaDevice;
import java.util.Arrays;

/**
 * Run in a fresh JVM whose {@code LD_LIBRARY_PATH} leads to the driver shim (by {@link DriverShim#probe}). Without
 * arguments: what {@code Devices.best()} chose through JCuda, why, and one op's result on it. With {@code oom}: the
 * out-of-memory path of a CUDA device on a small simulated device.
 */
public final class ShimProbe {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("oom")) {
            outOfMemory(Integer.parseInt(args[1]));
            return;
        }
        Device best = Devices.best();
        System.out.println("gpu=" + best.isGpu());
        System.out.println("name=" + best.name());
        System.out.println("reason=" + Devices.reason());
        try (Tensor x = best.upload(new float[] {1, 2, 3, 4, 0, -1}, 2, 3); Tensor y = best.logSoftmax(x)) {
            System.out.println("logSoftmax=" + Arrays.toString(y.toArray()));
        }
    }

    /**
     * On a device of a little more than {@code floats} floats: a freed tensor's pooled memory is given back when a
     * larger one needs the room, and a second live tensor of that size does not fit.
     */
    private static void outOfMemory(int floats) {
        try (CudaDevice d = CudaDevice.open(0)) {
            float[] small = new float[floats * 3 / 5];
            d.upload(small, 1, small.length).close(); // now idle in the pool
            float[] large = new float[floats];
            Arrays.fill(large, 2f);
            try (Tensor a = d.upload(large, 1, large.length)) {
                System.out.println("large after trim=" + a.toArray()[floats - 1]);
                try (Tensor b = d.upload(large, 1, large.length)) {
                    System.out.println("second large=" + b.toArray()[0]);
                } catch (RuntimeException e) {
                    System.out.println("second large failed: " + e);
                }
            }
            System.out.println("live after close=" + d.liveBytes());
        }
    }
}
