package dev.kullback.shim;

import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Tensor;
import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.CudaException;
import dev.kullback.cuda.Gpu;
import dev.kullback.cuda.JCudaGpu;
import java.util.Arrays;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Run in a fresh JVM whose {@code LD_LIBRARY_PATH} leads to the driver shim (by {@link DriverShim#probe}). Without
 * arguments: what {@code Devices.best()} chose through JCuda, why, and one op's result on it. With {@code oom}: the
 * out-of-memory path of a CUDA device on a small simulated device; with {@code lifecycle}: the driver's life cycle.
 */
public final class ShimProbe {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("oom")) {
            outOfMemory(Integer.parseInt(args[1]));
            return;
        }
        if (args.length > 0 && args[0].equals("lifecycle")) {
            lifecycle();
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
     * What a process sees of the driver's life cycle, which the shared context of the test JVM cannot show: calls
     * before cuInit, a released primary context, and a kernel fault that poisons the context for every later call.
     */
    private static void lifecycle() {
        JCudaDriver.setExceptionsEnabled(false);
        System.out.println("before cuInit=" + CUresult.stringFor(JCudaDriver.cuDeviceGetCount(new int[1])));
        JCudaDriver.cuInit(0);
        CUdevice device = new CUdevice();
        JCudaDriver.cuDeviceGet(device, 0);
        CUcontext context = new CUcontext();
        JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
        JCudaDriver.cuDevicePrimaryCtxRelease(device);
        System.out.println("released context=" + CUresult.stringFor(JCudaDriver.cuCtxSetCurrent(context)));
        try (JCudaGpu gpu = JCudaGpu.open(0)) {
            Gpu.Function softmax = gpu.function("log_softmax", "softmax_rows_block");
            long x = gpu.malloc(16);
            gpu.launch(softmax, 1, 256, 0, x, 4096L, x, 4096L, 1, 4096, 1); // a 4096-float row in a 16-byte allocation
            System.out.println("queued=ok");
            try {
                gpu.synchronize();
            } catch (CudaException e) {
                System.out.println("synchronize=" + e.error());
            }
            try {
                gpu.malloc(16);
            } catch (CudaException e) {
                System.out.println("after the fault=" + e.error());
            }
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
