package dev.kullback;

import java.util.Random;
import java.util.SplittableRandom;

/** Reproducible random test data; every generator takes its own seeded {@link Random}. */
public final class Data {
    private Data() {
    }

    /** A seed that depends only on the strings and numbers given, so a failing case can be rerun alone. */
    public static Random random(Object... key) {
        long h = 0x9E3779B97F4A7C15L;
        for (Object o : key) {
            h = h * 31 + String.valueOf(o).hashCode();
        }
        return new Random(new SplittableRandom(h).nextLong());
    }

    /** Logits ~ N(0, 3). */
    public static float[] logits(Random rnd, Shape s) {
        float[] x = new float[s.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (3 * rnd.nextGaussian());
        }
        return x;
    }

    /** Standard normal values (gradients). */
    public static float[] normal(Random rnd, Shape s) {
        float[] x = new float[s.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /**
     * Probabilities: row-wise softmax (in double) of N(0, 3) logits. With {@code zeroFraction > 0}, that fraction of
     * the entries is set to exactly 0 and each row renormalized (a row left with no mass stays all zeros).
     */
    public static float[] probs(Random rnd, Shape s, double zeroFraction) {
        double[] p = probsDouble(rnd, s, zeroFraction);
        float[] out = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = (float) p[i];
        }
        return out;
    }

    /** Log-probabilities: the log (in double) of {@link #probs} with no zeros, so every value is finite. */
    public static float[] logProbs(Random rnd, Shape s) {
        double[] p = probsDouble(rnd, s, 0);
        float[] out = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = (float) Math.log(p[i]);
            if (!Float.isFinite(out[i])) {
                throw new AssertionError("log-probability not finite: " + p[i]);
            }
        }
        return out;
    }

    private static double[] probsDouble(Random rnd, Shape s, double zeroFraction) {
        int rows = s.rows();
        int cols = s.cols();
        double[] p = new double[s.size()];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                p[r * cols + c] = 3 * rnd.nextGaussian();
                max = Math.max(max, p[r * cols + c]);
            }
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                double e = Math.exp(p[r * cols + c] - max);
                if (zeroFraction > 0 && rnd.nextDouble() < zeroFraction) {
                    e = 0;
                }
                p[r * cols + c] = e;
                sum += e;
            }
            for (int c = 0; c < cols; c++) {
                p[r * cols + c] = sum > 0 ? p[r * cols + c] / sum : 0;
            }
        }
        return p;
    }

    /** Elementwise (float) natural log, as {@code torch.log} would give to within an ulp. */
    public static float[] log(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) Math.log(x[i]);
        }
        return out;
    }

    public static float[] filled(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }
}
