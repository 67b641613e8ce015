package dev.kullback.cpu;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;

/**
 * Bulk conversions between float32 and the 16-bit types, bit for bit those of {@link HalfFloats}: the scalar twin
 * ({@link #SCALAR}, HalfFloats' own loops) and the Vector API form ({@code VectorHalfConverter}), loaded only where
 * the vector kernels are (see {@link #of(Kernels)}).
 */
interface HalfConverter {
    /** dst[d..d+n) = the float32 values of src[s..s+n), patterns of {@code type}. */
    void widen(DType type, short[] src, int s, float[] dst, int d, int n);

    /** dst[d..d+n) = src[s..s+n) rounded to nearest even into {@code type}. */
    void narrow(DType type, float[] src, int s, short[] dst, int d, int n);

    HalfConverter SCALAR = new HalfConverter() {
        @Override
        public void widen(DType type, short[] src, int s, float[] dst, int d, int n) {
            HalfFloats.toFloat(type, src, s, dst, d, n);
        }

        @Override
        public void narrow(DType type, float[] src, int s, short[] dst, int d, int n) {
            HalfFloats.fromFloat(type, src, s, dst, d, n);
        }
    };

    /** The vector converter when {@code kernels} are the vector kernels (so the Vector API is there), else scalar. */
    static HalfConverter of(Kernels kernels) {
        if (!kernels.isVectorized()) {
            return SCALAR;
        }
        return VectorHolder.VECTOR;
    }

    /** Loads the vector converter once, reflectively: this interface must load without jdk.incubator.vector. */
    final class VectorHolder {
        static final HalfConverter VECTOR = load();

        private VectorHolder() {
        }

        private static HalfConverter load() {
            try {
                return (HalfConverter) Class.forName("dev.kullback.cpu.VectorHalfConverter").getDeclaredConstructor()
                        .newInstance();
            } catch (ReflectiveOperationException | LinkageError e) {
                return SCALAR;
            }
        }
    }
}
