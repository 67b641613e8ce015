package dev.kullback.cpu;

import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.I2S;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.MAX;
import static jdk.incubator.vector.VectorOperators.S2I;

import dev.kullback.internal.HalfFloats;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link PanamaKernels}' log-softmax loops on bf16 storage, the conversions in registers: a load is L shorts widened to
 * ints and shifted into a float's high half (exact), a store rounds to nearest even with {@link VectorHalfConverter}'s
 * carry trick (NaN to 0x7FC0) and packs the low halves. Between them the arithmetic is PanamaKernels' own, operation
 * for operation, so a result is the float32 kernel's on the widened values, rounded once: the bits of widening a
 * block, running the float32 kernel, and narrowing it ({@link RowBlocks}). Loads and stores are written out in the
 * loops, JDK calls only, as PanamaKernels requires of loads (no helper of ours between a loop and its vectors). No
 * fused write-and-statistics loop as PanamaKernels has: with the conversions in it, it measured slower than the two
 * loops one after the other (HalfPhaseProfile kernels).
 */
final class PanamaBf16Rows {
    private static final VectorSpecies<Float> SPECIES = PanamaKernels.SPECIES;
    private static final VectorSpecies<Integer> INTS = SPECIES.withLanes(int.class);
    private static final VectorSpecies<Short> SHORTS =
            VectorSpecies.of(short.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));
    private static final int L = SPECIES.length();
    private static final int BLOCK_VECTORS = PanamaKernels.BLOCK_VECTORS;
    private static final float HEADROOM = Kernels.LOG_STATS_HEADROOM;
    private static final FloatVector V_HEADROOM = FloatVector.broadcast(SPECIES, HEADROOM);

    /** Constants as prebuilt vectors: a scalar operand is a broadcast per use, which C2 may leave out of line. */
    private static final IntVector V_ROUND = IntVector.broadcast(INTS, 0x7FFF);
    private static final IntVector V_ONE = IntVector.broadcast(INTS, 1);
    private static final IntVector V_ABS = IntVector.broadcast(INTS, 0x7FFF_FFFF);
    private static final IntVector V_INF = IntVector.broadcast(INTS, 0x7F80_0000);
    private static final IntVector V_NAN = IntVector.broadcast(INTS, 0x7FC0);

    private PanamaBf16Rows() {
    }

    /** {@code out[to + j] = bf16((a[from + j] - m) - logSum)}, j in [0, n). */
    static void logSoftmaxWrite(short[] a, int from, short[] out, int to, int n, float m, float logSum) {
        FloatVector vm = FloatVector.broadcast(SPECIES, m);
        FloatVector vl = FloatVector.broadcast(SPECIES, logSum);
        int j = 0;
        for (; j <= n - L; j += L) {
            FloatVector x = ((IntVector) ShortVector.fromArray(SHORTS, a, from + j).convertShape(S2I, INTS, 0))
                    .lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector u = x.sub(vm).sub(vl).reinterpretAsInts();
            IntVector rounded = u.add(V_ROUND).add(u.lanewise(LSHR, 16).and(V_ONE)).lanewise(LSHR, 16)
                    .blend(V_NAN, u.and(V_ABS).compare(GT, V_INF));
            ((ShortVector) rounded.convertShape(I2S, SHORTS, 0)).intoArray(out, to + j);
        }
        for (; j < n; j++) {
            out[to + j] = HalfFloats.floatToBf16((HalfFloats.bf16ToFloat(a[from + j]) - m) - logSum);
        }
    }

    /** PanamaKernels' logStats (its one-read statistics loop) on the bf16 values a[from, from + n). */
    static void logStats(short[] a, int from, int n, float[] m, double[] s, int slot) {
        FloatVector acc = FloatVector.zero(SPECIES);
        float ref = -Float.MAX_VALUE;
        double sum = 0;
        int j = 0;
        if (n >= L) {
            FloatVector first = ((IntVector) ShortVector.fromArray(SHORTS, a, from).convertShape(S2I, INTS, 0))
                    .lanewise(LSHL, 16).reinterpretAsFloats();
            ref = Math.max(first.reduceLanes(MAX), -Float.MAX_VALUE);
            FloatVector r = FloatVector.broadcast(SPECIES, ref);
            boolean shared = true;
            int last = n - L;
            while (j <= last) {
                int end = j + Math.min(last - j, (BLOCK_VECTORS - 1) * L);
                FloatVector block = FloatVector.zero(SPECIES);
                for (; j <= end; j += L) {
                    FloatVector x = ((IntVector) ShortVector.fromArray(SHORTS, a, from + j).convertShape(S2I, INTS, 0))
                            .lanewise(LSHL, 16).reinterpretAsFloats();
                    FloatVector d = x.sub(r);
                    VectorMask<Float> up = d.compare(GT, V_HEADROOM);
                    if (up.anyTrue()) { // rare: lane by lane in scalar, as in PanamaKernels
                        FloatVector raised = r.blend(x, up);
                        FloatVector scale = FloatVector.fromArray(SPECIES,
                                PanamaKernels.expOfDifference(r.toArray(), raised.toArray()), 0);
                        acc = acc.mul(scale);
                        block = block.mul(scale);
                        r = raised;
                        d = x.sub(r);
                        shared = false;
                    }
                    block = block.add(PanamaKernels.expNonPositive(d));
                }
                acc = acc.add(block);
            }
            if (!shared) {
                ref = r.reduceLanes(MAX);
                acc = acc.mul(FloatVector.fromArray(SPECIES, PanamaKernels.expOfDifference(r.toArray(),
                        FloatVector.broadcast(SPECIES, ref).toArray()), 0));
            }
            sum = PanamaKernels.lanes(acc.toArray());
        }
        for (; j < n; j++) {
            float x = HalfFloats.bf16ToFloat(a[from + j]);
            if (x - ref > HEADROOM) {
                sum *= Math.exp((double) ref - x);
                ref = x;
            }
            sum += PanamaKernels.expScalar(x - ref);
        }
        boolean allNegativeInfinity = ref == -Float.MAX_VALUE && sum == 0;
        m[slot] = allNegativeInfinity ? Float.NEGATIVE_INFINITY : ref;
        s[slot] = sum;
    }
}
