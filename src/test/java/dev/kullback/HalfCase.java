package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kullback.internal.HalfFloats;
import java.util.ArrayList;
import java.util.List;

/**
 * Half-precision and view helpers shared by the issue-10 suites: a {@link LossCase} run on tensors of a given type
 * (and optionally as views inside larger allocations), inputs rounded to a type, and the tolerances of a half result.
 */
final class HalfCase {
    private HalfCase() {
    }

    /** Each value rounded to nearest even in {@code type} and widened back (exact in float32). */
    static float[] rounded(DType type, float[] x) {
        if (type == DType.FLOAT32) {
            return x.clone();
        }
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = HalfFloats.toFloat(type, HalfFloats.fromFloat(type, x[i]));
        }
        return out;
    }

    /** {@code c} with its inputs (and class weights) rounded to {@code type}, so every side sees the same values. */
    static LossCase roundedTo(DType type, LossCase c) {
        float[][] in = c.inputs();
        float[][] r = new float[in.length][];
        for (int i = 0; i < in.length; i++) {
            r[i] = rounded(type, in[i]);
        }
        c.inputs(r);
        if (c.weightValues() != null) {
            c.weightValues = rounded(type, c.weightValues());
        }
        return c;
    }

    /** How {@link #run} lays out each input tensor. */
    enum Layout {
        /** A contiguous upload. */
        CONTIGUOUS,
        /** A view inside a larger allocation (2 rows above, 3 below, odd padding columns on both sides). */
        VIEW,
        /** A view of a view, whose last row ends exactly at the end of the allocation. */
        VIEW_AT_END,
        /**
         * A view starting at column 1 of an allocation one column wider (row stride cols + 1, 301 for 300 columns):
         * every row start misaligned differently, so the CUDA kernels read element by element; the last row ends at
         * the allocation's end.
         */
        COLUMN_1,
        /**
         * A view whose row starts are 16-byte aligned for every type when cols % 8 == 0 (8 padding columns on both
         * sides, a row above and below): strided rows that the CUDA kernels read as vectors.
         */
        ALIGNED_VIEW,
        /**
         * Rows 1.. of an allocation one row taller: a contiguous view (row stride cols) that starts cols elements in,
         * misaligned when cols % 4 != 0, so even the kernels that take contiguous float32 as it is see an odd address.
         */
        ROW_1;

        /** The views (every layout but CONTIGUOUS). */
        static final Layout[] VIEWS = {VIEW, VIEW_AT_END, COLUMN_1, ALIGNED_VIEW, ROW_1};
    }

    /** Uploads [rows, cols] {@code data} as {@code type} in {@code layout}; the returned tensor's base goes in {@code sc}. */
    static Tensor upload(Device d, Scope sc, float[] data, int rows, int cols, DType type, Layout layout) {
        if (layout == Layout.CONTIGUOUS) {
            return sc.add(d.upload(data, rows, cols, type));
        }
        int left = switch (layout) {
            case ROW_1 -> 0;
            case COLUMN_1 -> 1;
            case ALIGNED_VIEW -> 8;
            default -> 3;
        };
        int right = switch (layout) {
            case VIEW_AT_END, COLUMN_1, ROW_1 -> 0;
            case ALIGNED_VIEW -> 8;
            default -> 2;
        };
        int above = layout == Layout.VIEW || layout == Layout.VIEW_AT_END ? 2 : 1;
        int below = switch (layout) {
            case VIEW_AT_END, COLUMN_1, ROW_1 -> 0;
            case ALIGNED_VIEW -> 1;
            default -> 3;
        };
        int baseRows = rows + above + below;
        int baseCols = cols + left + right;
        float[] padded = new float[baseRows * baseCols];
        java.util.Arrays.fill(padded, Float.NaN); // anything read outside the view poisons the result
        for (int r = 0; r < rows; r++) {
            System.arraycopy(data, r * cols, padded, (r + above) * baseCols + left, cols);
        }
        Tensor base = sc.add(d.upload(padded, baseRows, baseCols, type));
        if (layout != Layout.VIEW_AT_END) {
            return d.view(base, above, rows, left, cols);
        }
        Tensor outer = d.view(base, 1, baseRows - 1, 1, baseCols - 1);
        return d.view(outer, above - 1, rows, left - 1, cols);
    }

    /** The result of one loss call, with the types of its value and gradients. */
    record Result(LossCase.Out out, DType valueType, List<DType> gradTypes) {
    }

    /** Runs {@code c} with every input of {@code type} in {@code layout} (class weights stay FLOAT32, contiguous). */
    static Result run(Device d, LossCase c, DType type, Layout layout, boolean float32Gradients) {
        float[][] in = c.inputs();
        int rows = c.shape.rows();
        int cols = c.shape.cols();
        try (Scope sc = new Scope()) {
            Tensor[] t = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) {
                t[i] = upload(d, sc, in[i], rows, cols, type, layout);
            }
            Labels l = c.labels() == null ? null : d.uploadLabels(c.labels());
            Tensor w = c.weightValues() == null ? null : sc.add(d.upload(c.weightValues(), 1, cols));
            try (Loss loss = c.call(d, t, l, w, float32Gradients)) {
                assertEquals((c.reduction == Reduction.NONE ? rows : 1) + "x1",
                        loss.value().rows() + "x" + loss.value().cols(), c + ": value shape");
                float[][] grads = new float[loss.gradientCount()][];
                List<DType> types = new ArrayList<>();
                for (int i = 0; i < grads.length; i++) {
                    grads[i] = loss.gradient(i).toArray();
                    types.add(loss.gradient(i).dtype());
                }
                return new Result(new LossCase.Out(loss.value().toArray(), grads), loss.value().dtype(), types);
            } finally {
                if (l != null) {
                    l.close();
                }
            }
        }
    }

    // ---- tolerances ----------------------------------------------------------------------------------------

    /** The unit roundoff of a type: 2^-8 for bfloat16 (8 significant bits), 2^-11 for float16, 2^-24 for float32. */
    static double unitRoundoff(DType type) {
        return type == DType.BFLOAT16 ? 0x1p-8 : type == DType.FLOAT16 ? 0x1p-11 : 0x1p-24;
    }

    /** The largest finite value of a type. */
    static double maxFinite(DType type) {
        return type == DType.FLOAT16 ? 65504 : type == DType.BFLOAT16 ? 0x1.FEp127 : Float.MAX_VALUE;
    }

    /** The spacing of {@code type}'s values at |v| (subnormal spacing below the normals). */
    static double ulp(DType type, double v) {
        double a = Math.abs(v);
        switch (type) {
            case BFLOAT16:
                return Math.max(Math.ulp((float) a) * 65536.0, 0x1p-133);
            case FLOAT16:
                return a < 0x1p-14 ? 0x1p-24 : Math.ulp((float) a) * 8192.0;
            default:
                return Math.max(Math.ulp((float) a), Float.MIN_VALUE);
        }
    }

    /**
     * A result of {@code type} against the float64 reference of the same (rounded) inputs: kernels compute in float32 and
     * round once, so each element is within one ulp of the type at its value (half an ulp for the rounding, the rest for
     * a float32 error that crosses a rounding boundary), plus the float32 error itself, at most {@code f32Rel} of its
     * row's magnitude {@code scale}.
     */
    static void assertRoundedOnce(String what, DType type, double[] ref, float[] ours, double[] scale, double f32Rel) {
        assertEquals(ref.length, ours.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (Double.isNaN(ref[i]) || Double.isInfinite(ref[i])) {
                assertTrue(Float.isNaN(ours[i]) ? Double.isNaN(ref[i]) : ours[i] == ref[i],
                        what + "[" + i + "]: expected " + ref[i] + ", got " + ours[i]);
                continue;
            }
            if (Math.abs(ref[i]) > maxFinite(type) * (1 + unitRoundoff(type) / 2)) {
                // beyond the type's range (a Keras gradient of 1 / 1e-7 in float16): rounding gives infinity
                assertEquals(Math.copySign(Double.POSITIVE_INFINITY, ref[i]), ours[i], 0,
                        what + "[" + i + "]: " + ref[i] + " overflows " + type);
                continue;
            }
            assertTrue(Float.isFinite(ours[i]), what + "[" + i + "]: " + ours[i] + " where the reference is "
                    + ref[i]);
            double tol = ulp(type, Math.max(Math.abs(ref[i]), Math.abs(ours[i]))) + f32Rel * scale[i];
            if (!(Math.abs(ours[i] - ref[i]) <= tol)) {
                fail(what + "[" + i + "]: " + type + " result " + ours[i] + " is " + Math.abs(ours[i] - ref[i])
                        + " from the float64 reference " + ref[i] + " (tolerance " + tol + ")");
            }
        }
    }

    /**
     * A result against PyTorch's own half kernels on the same inputs. PyTorch computes each op in float32 and rounds
     * its output to the type, but a loss is several ops (log_softmax, then nll_loss or kl_div, then the reduction),
     * each rounding its intermediate, and its gradient chains rounded intermediates (exp of a rounded log-probability
     * is off by |log p| · u relatively): the difference is a few unit roundoffs of the row's magnitude, here at most
     * {@code units} · u · scale plus one ulp of the type.
     */
    static void assertNearTorch(String what, DType type, float[] torch, float[] ours, double[] scale, double units) {
        assertEquals(torch.length, ours.length, what + ": length");
        double u = unitRoundoff(type);
        for (int i = 0; i < torch.length; i++) {
            if (Float.isNaN(torch[i]) || Float.isInfinite(torch[i])) {
                assertTrue(Float.isNaN(ours[i]) ? Float.isNaN(torch[i]) : ours[i] == torch[i],
                        what + "[" + i + "]: PyTorch " + torch[i] + ", ours " + ours[i]);
                continue;
            }
            double tol = units * u * scale[i] + ulp(type, torch[i]);
            if (!(Math.abs(ours[i] - torch[i]) <= tol)) {
                fail(what + "[" + i + "]: ours " + ours[i] + " vs PyTorch " + type + " " + torch[i] + " differ by "
                        + Math.abs(ours[i] - torch[i]) + " (tolerance " + tol + " = " + units + " u · scale "
                        + scale[i] + " + 1 ulp)");
            }
        }
    }

    /** Per element, the largest |value| of its row among the given arrays (the row's magnitude). */
    static double[] rowScale(int rows, int cols, double[] a, float[] b) {
        double[] s = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double m = 0;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                if (a != null && Double.isFinite(a[i])) {
                    m = Math.max(m, Math.abs(a[i]));
                }
                if (b != null && Float.isFinite(b[i])) {
                    m = Math.max(m, Math.abs(b[i]));
                }
            }
            java.util.Arrays.fill(s, r * cols, r * cols + cols, m);
        }
        return s;
    }

    static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }
}
