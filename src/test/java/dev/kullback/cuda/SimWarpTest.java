package dev.kullback.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Warp intrinsics, lane by lane, against the CUDA Programming Guide's description (written out here
 * independently of the simulator's PTX-style implementation); and planted misuse, which must fail.
 */
class SimWarpTest {
    private static final int THREADS = 64;  // two warps
    private SimGpu gpu;
    private long vals;
    private long args;
    private long out;

    @BeforeEach
    void open() {
        gpu = SimGpus.open();
        vals = gpu.malloc(4 * THREADS);
        args = gpu.malloc(4 * THREADS);
        out = gpu.malloc(4 * THREADS);
    }

    @AfterEach
    void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    private int[] run(int mode, int width, int[] v, int[] a) {
        gpu.copyToDevice(v, vals);
        gpu.copyToDevice(a, args);
        gpu.launch(gpu.function("sim_test", "warp_ops"), 1, THREADS, 0, vals, args, out, mode, width);
        int[] r = new int[THREADS];
        gpu.copyToHost(out, r);
        return r;
    }

    /** The guide: "each subsection of width lanes behaves as a separate entity", lanes numbered within the warp. */
    private static int expectedShuffle(int mode, int lane, int width, int[] v, int arg) {
        int warpBase = lane / 32 * 32;
        int l = lane % 32;
        int segStart = l / width * width;
        int src;
        switch (mode) {
            case 0: // srcLane outside [0, width) wraps around within the subsection (modulo width)
                src = segStart + (arg & (width - 1));
                break;
            case 1: // up: a lane whose source would fall before its subsection keeps its own value
                src = l - arg < segStart ? l : l - arg;
                break;
            case 2: // down: a source past the end of its subsection: own value
                src = l + arg >= segStart + width ? l : l + arg;
                break;
            default: // xor: earlier subsections may be read, later ones give the own value
                src = (l ^ arg) >= segStart + width ? l : l ^ arg;
                break;
        }
        return v[warpBase + src];
    }

    @Test
    void shufflesMatchTheirDocumentedSemanticsLaneByLane() {
        Random rnd = new Random(42);
        int[] v = new int[THREADS];
        for (int i = 0; i < THREADS; i++) {
            v[i] = 1000 + i * 7 + rnd.nextInt(5);
        }
        for (int mode = 0; mode < 4; mode++) {
            for (int width : new int[] {1, 2, 4, 8, 16, 32}) {
                // deltas and lane masks beyond 31 are undefined (an error: see deltaBeyond31IsAnError)
                int[][] argSets = {uniform(0), uniform(1), uniform(3), uniform(width - 1), uniform(Math.min(width, 31)),
                        uniform(Math.min(width + 5, 31)), uniform(17), uniform(31), randomArgs(rnd, mode)};
                for (int[] a : argSets) {
                    int[] got = run(mode, width, v, a);
                    for (int lane = 0; lane < THREADS; lane++) {
                        assertEquals(expectedShuffle(mode, lane, width, v, a[lane]), got[lane],
                                "mode " + mode + " width " + width + " lane " + lane + " arg " + a[lane]);
                    }
                }
            }
        }
    }

    @Test
    void documentedExamples() {
        int[] v = new int[THREADS];
        for (int i = 0; i < THREADS; i++) {
            v[i] = i;
        }
        // __shfl_down_sync(mask, v, 8, 16): lanes 8..15 of each half keep their own value
        int[] got = run(2, 16, v, uniform(8));
        assertEquals(8, got[0]);
        assertEquals(15, got[7]);
        assertEquals(8, got[8]);
        assertEquals(15, got[15]);
        assertEquals(24, got[16]);
        assertEquals(31, got[31]);
        assertEquals(32 + 8, got[32]);
        // __shfl_up_sync(mask, v, 1, 8): the first lane of each group of 8 keeps its own value
        got = run(1, 8, v, uniform(1));
        assertEquals(0, got[0]);
        assertEquals(0, got[1]);
        assertEquals(8, got[8]);
        assertEquals(14, got[15]);
        // __shfl_sync(mask, v, 0): a broadcast from lane 0 of each warp
        got = run(0, 32, v, uniform(0));
        assertEquals(0, got[31]);
        assertEquals(32, got[33]);
        // __shfl_xor_sync(mask, v, 16, 16): later subsection, own value; (v, 8, 16): a swap of quarters
        got = run(3, 16, v, uniform(16));
        assertEquals(3, got[3]);
        assertEquals(19 ^ 16, got[19]);  // lane 19 reads lane 3, an earlier subsection
        got = run(3, 16, v, uniform(8));
        assertEquals(11, got[3]);
    }

    @Test
    void votes() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            int[] v = new int[THREADS];
            int density = trial % 4;
            for (int i = 0; i < THREADS; i++) {
                v[i] = density == 0 ? 0 : density == 3 ? 1 + rnd.nextInt(3) : rnd.nextInt(density + 1) == 0 ? 0 : 5;
            }
            int[] ballot = run(4, 32, v, uniform(0));
            int[] any = run(5, 32, v, uniform(0));
            int[] all = run(6, 32, v, uniform(0));
            int[] match = run(8, 32, v, uniform(0));
            for (int w = 0; w < THREADS / 32; w++) {
                int bits = 0;
                for (int l = 0; l < 32; l++) {
                    bits |= (v[w * 32 + l] != 0 ? 1 : 0) << l;
                }
                for (int l = 0; l < 32; l++) {
                    int lane = w * 32 + l;
                    assertEquals(bits, ballot[lane], "ballot lane " + lane);
                    assertEquals(bits != 0 ? 1 : 0, any[lane]);
                    assertEquals(bits == -1 ? 1 : 0, all[lane]);
                    int same = 0;
                    for (int k = 0; k < 32; k++) {
                        same |= (v[w * 32 + k] == v[lane] ? 1 : 0) << k;
                    }
                    assertEquals(same, match[lane], "match_any lane " + lane);
                }
            }
        }
        int[] active = run(7, 32, new int[THREADS], uniform(0));
        assertEquals(-1, active[0]);
        assertEquals(-1, active[63]);
    }

    @Test
    void wideAndFloatShuffles() {
        int n = 64;
        double[] d = new double[n];
        float[] f = new float[n];
        long[] l = new long[n];
        for (int i = 0; i < n; i++) {
            d[i] = 1e300 / (i + 1);
            f[i] = i + 0.25f;
            l[i] = 0x1234_5678_0000_0000L + i;
        }
        long dd = gpu.malloc(8 * n), ds = gpu.malloc(8 * n), ff = gpu.malloc(4 * n), fs = gpu.malloc(4 * n);
        long ll = gpu.malloc(8 * n), lr = gpu.malloc(8 * n);
        gpu.copyToDevice(d, dd);
        gpu.copyToDevice(f, 0, ff, n);
        gpu.copyToDevice(l, ll);
        gpu.launch(gpu.function("sim_test", "warp_wide"), 1, n, 0, dd, ds, ff, fs, ll, lr);
        double[] dsum = new double[n];
        float[] fsum = new float[n];
        long[] lrot = new long[n];
        gpu.copyToHost(ds, dsum);
        gpu.copyToHost(fs, fsum, 0, n);
        gpu.copyToHost(lr, lrot);
        for (int w = 0; w < 2; w++) {
            double exact = 0;
            for (int i = 0; i < 32; i++) {
                exact += d[w * 32 + i];
            }
            float f0 = 0;
            for (int i = 0; i < 32; i++) {
                f0 += f[w * 32 + i];
            }
            for (int i = 0; i < 32; i++) {
                int t = w * 32 + i;
                assertEquals(exact, dsum[t], exact * 1e-15);
                assertEquals(dsum[w * 32], dsum[t], 0.0, "xor butterflies give every lane the same bits");
                assertEquals(l[w * 32 + (i + 1) % 32], lrot[t]);
            }
            assertEquals(f0, fsum[w * 32], 1e-3f);  // down-reduction: lane 0 has the sum
        }
    }

    @Test
    void partialMasksWork() {
        long o = gpu.malloc(4 * 64);
        gpu.launch(gpu.function("sim_test", "warp_partial_ok"), 1, 64, 0, o);
        int[] r = new int[64];
        gpu.copyToHost(o, r);
        for (int t = 0; t < 64; t++) {
            int lane = t % 32;
            if (lane < 16) {
                int down = lane + 1 < 16 ? (lane + 1) * 10 : lane * 10;
                int xor = (lane ^ 3) * 10;
                assertEquals(down + xor, r[t], "lane " + t);
            }
        }
        gpu.launch(gpu.function("sim_test", "warp_two_halves"), 1, 64, 0, o);
        gpu.copyToHost(o, r);
        for (int t = 0; t < 64; t++) {
            assertEquals(t % 32 < 16 ? 0 : 16, r[t]);
        }
    }

    private SimCudaException fails(String kernel, String... parts) {
        try (SimGpu g = SimGpus.open()) {
            long o = g.malloc(4 * 64);
            SimCudaException e = assertThrows(SimCudaException.class,
                    () -> g.launch(g.function("sim_test", kernel), 1, 64, 0, o));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", e.errorName(), e.getMessage());
            for (String p : parts) {
                assertTrue(e.getMessage().contains(p), "expected \"" + p + "\" in: " + e.getMessage());
            }
            return e;
        }
    }

    @Test
    void aLaneOutsideTheMaskIsAnError() {
        fails("warp_lane_outside_mask", "lane 16 calls __shfl_sync", "mask 0x0000ffff", "does not name the calling lane");
    }

    @Test
    void aMaskNamingAnExitedLaneIsAnError() {
        fails("warp_exited_lane", "exited while lane 0 of its warp waits for it in __shfl_down_sync(mask 0xffffffff)");
        fails("warp_exited_lane_late", "__shfl_down_sync", "mask 0xffffffff names lanes 0-15, which have exited");
    }

    @Test
    void aDivergentWarpIsAnError() {
        fails("warp_divergent", "divergent warp 0", "lane 16 is in __ballot_sync(mask 0xffffffff)",
                "lane 0 waits in __shfl_sync(mask 0xffffffff)");
    }

    @Test
    void readingALaneOutsideTheMaskIsAnError() {
        fails("warp_reads_outside_mask", "lane 0 reads lane 20, which is not in the mask");
    }

    @Test
    void deltaBeyond31IsAnError() {
        SimCudaException e = assertThrows(SimCudaException.class, () -> run(2, 32, new int[THREADS], uniform(32)));
        assertTrue(e.getMessage().contains("delta 32 is outside [0, 31]"), e.getMessage());
    }

    @Test
    void activeMaskInDivergentCode() {
        int[] v = new int[THREADS];
        int[] got = run(7, 32, v, uniform(0));
        for (int t = 0; t < THREADS; t++) {
            assertEquals(-1, got[t], "converged: every lane is active");
        }
        long o = gpu.malloc(4 * 64);
        gpu.launch(gpu.function("sim_test", "active_divergent"), 1, 64, 0, o);
        int[] r = new int[64];
        gpu.copyToHost(o, r);
        for (int t = 0; t < 64; t++) {
            int lane = t % 32;
            if (lane < 24) {
                assertEquals(lane % 2 == 0 ? 0x00555555 : 0x80AAAAAA, r[t], "lane " + t);
            }
        }
    }

    @Test
    void aBadWidthIsAnError() {
        fails("warp_bad_width", "width 12 is not a power of 2");
    }

    @Test
    void aWarpWaitingOnABarrierIsADeadlock() {
        fails("warp_barrier_deadlock", "deadlock", "wait at __syncthreads()", "lanes 0-15 wait in __syncwarp",
                "lane 16 is at __syncthreads");
    }

    private static int[] uniform(int a) {
        int[] r = new int[THREADS];
        java.util.Arrays.fill(r, a);
        return r;
    }

    private static int[] randomArgs(Random rnd, int mode) {
        int[] r = new int[THREADS];
        for (int i = 0; i < THREADS; i++) {
            r[i] = mode == 0 ? rnd.nextInt(70) - 3 : rnd.nextInt(32);
        }
        return r;
    }
}
