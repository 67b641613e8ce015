package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Zeros, infinities, NaN and extreme values: each case runs on the device and through {@link TorchOracle}, and
 * the device must give what PyTorch gives (NaN where PyTorch has NaN, the same infinity, finite values within
 * 1e-5). Most cases also state the expected values explicitly; a separate test checks that PyTorch agrees with
 * them, so the suite documents PyTorch's behaviour and fails loudly if that ever changes.
 */
class EdgeSemanticsTest {
    static final float NI = Float.NEGATIVE_INFINITY;
    static final float PI = Float.POSITIVE_INFINITY;
    static final float NAN = Float.NaN;
    static final float LN2 = (float) Math.log(2);
    static final float LN3 = (float) Math.log(3);
    static final float MAX = Float.MAX_VALUE;
    /** The smallest positive float, a subnormal. */
    static final float TINY = Float.MIN_VALUE;

    enum Kind { LOG_SOFTMAX, SOFTMAX, LOG_SOFTMAX_BACKWARD, KL, KL_BACKWARD, SUM, MEAN, ROW_SUM }

    /**
     * One edge case. Arguments by kind: LOG_SOFTMAX, SOFTMAX, SUM, MEAN, ROW_SUM: a = x; LOG_SOFTMAX_BACKWARD: a =
     * gradOutput, b = the logits x (the device gets PyTorch's log_softmax(x) as its {@code output}); KL: a = input,
     * b = target; KL_BACKWARD: a = gradOutput, b = input, c = target. {@code expected} may be null (oracle only).
     */
    record Edge(String name, Kind kind, Reduction reduction, boolean logTarget, Shape shape, float[] a, float[] b,
                float[] c, float[] expected) {
        @Override
        public String toString() {
            String op = kind == Kind.KL || kind == Kind.KL_BACKWARD
                    ? kind + " " + reduction + " logTarget=" + logTarget : kind.toString();
            return op + ": " + name;
        }

        Shape resultShape() {
            switch (kind) {
                case SUM:
                case MEAN:
                    return new Shape(1, 1);
                case ROW_SUM:
                    return new Shape(shape.rows(), 1);
                case KL:
                    return reduction == Reduction.NONE ? shape : new Shape(1, 1);
                default:
                    return shape;
            }
        }
    }

    // ---- the cases ----------------------------------------------------------------------------------------

    static List<Edge> cases() {
        List<Edge> e = new ArrayList<>();
        // log-softmax and softmax
        both(e, "-inf logits get -inf / 0; the rest of the row is normal", 2, 3,
                new float[] {NI, 0, 1, 2, NI, NI},
                new float[] {NI, -1.3132616f, -0.31326166f, 0, NI, NI},
                new float[] {0, 0.26894143f, 0.7310586f, 1, 0, 0});
        both(e, "a row of all -inf is NaN; other rows unaffected", 2, 3,
                new float[] {NI, NI, NI, 0, 0, 0},
                new float[] {NAN, NAN, NAN, -LN3, -LN3, -LN3},
                new float[] {NAN, NAN, NAN, 1 / 3f, 1 / 3f, 1 / 3f});
        both(e, "a NaN makes its whole row NaN; other rows unaffected", 2, 3,
                new float[] {1, NAN, 3, 0, 0, 0},
                new float[] {NAN, NAN, NAN, -LN3, -LN3, -LN3},
                new float[] {NAN, NAN, NAN, 1 / 3f, 1 / 3f, 1 / 3f});
        both(e, "NaN with -inf", 1, 2, new float[] {NAN, NI}, new float[] {NAN, NAN}, new float[] {NAN, NAN});
        both(e, "[1000, 0, -1000] is stable", 1, 3, new float[] {1000, 0, -1000},
                new float[] {0, -1000, -2000}, new float[] {1, 0, 0});
        both(e, "equal large logits", 3, 2, new float[] {1000, 1000, -1000, -1000, -1000, 1000},
                new float[] {-LN2, -LN2, -LN2, -LN2, -2000, 0}, new float[] {0.5f, 0.5f, 0.5f, 0.5f, 0, 1});
        both(e, "+inf logits make the row NaN (inf - inf)", 3, 3,
                new float[] {PI, 0, 1, PI, NI, 0, PI, PI, 0},
                filled(9, NAN), filled(9, NAN));
        both(e, "float extremes: x - max overflows to -inf", 2, 2,
                new float[] {MAX, -MAX, MAX, MAX},
                new float[] {0, NI, -LN2, -LN2}, new float[] {1, 0, 0.5f, 0.5f});
        for (int cols : new int[] {33, 1025, 4097}) {
            float[] x = filled(cols, 1);
            x[cols - 1] = NAN;
            both(e, "NaN in the last column of a " + cols + "-wide row", 1, cols, x, filled(cols, NAN),
                    filled(cols, NAN));
            float[] y = filled(cols, 1);
            y[0] = NAN;
            both(e, "NaN in the first column of a " + cols + "-wide row", 1, cols, y, filled(cols, NAN),
                    filled(cols, NAN));
            float[] z = filled(cols, NI);
            z[cols - 1] = 5;
            float[] zls = filled(cols, NI);
            zls[cols - 1] = 0;
            float[] zsm = new float[cols];
            zsm[cols - 1] = 1;
            both(e, "one finite logit at the end of a " + cols + "-wide row of -inf", 1, cols, z, zls, zsm);
            both(e, "a " + cols + "-wide row of all -inf", 1, cols, filled(cols, NI), filled(cols, NAN),
                    filled(cols, NAN));
            // the max in the last (or the first) block/chunk of a long row, 2000 above everything else
            for (int at : new int[] {0, cols - 1}) {
                float[] w = filled(cols, -1000);
                w[at] = 1000;
                float[] wls = filled(cols, -2000);
                wls[at] = 0;
                float[] wsm = new float[cols];
                wsm[at] = 1;
                both(e, "1000 at column " + at + " of a " + cols + "-wide row of -1000", 1, cols, w, wls, wsm);
            }
            float[] alt = new float[cols];
            for (int i = 0; i < cols; i++) {
                alt[i] = i % 2 == 0 ? 1000 : -1000;
            }
            both(e, "alternating +-1000 in a " + cols + "-wide row", 1, cols, alt, null, null);
        }

        // log-softmax backward: gradIn = g - exp(y) * sum(g)
        e.add(new Edge("a -inf logit passes its gradient through unchanged", Kind.LOG_SOFTMAX_BACKWARD, null, false,
                new Shape(1, 3), new float[] {5, 1, 1}, new float[] {NI, 0, 1}, null,
                new float[] {5, 1 - 7 * 0.26894143f, 1 - 7 * 0.7310586f}));
        e.add(new Edge("a NaN gradient makes its row NaN", Kind.LOG_SOFTMAX_BACKWARD, null, false, new Shape(2, 3),
                new float[] {1, NAN, 1, 0, 0, 0}, new float[] {0, 1, 2, 0, 1, 2}, null,
                new float[] {NAN, NAN, NAN, 0, 0, 0}));
        e.add(new Edge("an all -inf row (NaN output) gives NaN", Kind.LOG_SOFTMAX_BACKWARD, null, false,
                new Shape(1, 3), new float[] {5, 1, 1}, new float[] {NI, NI, NI}, null, filled(3, NAN)));

        // kl_div pointwise, logTarget false: xlogy(t, t) - t * x
        kl(e, "t == 0 with finite x contributes exactly 0", false, 1, 4,
                new float[] {-3, 0, 5, -1e30f}, new float[] {0, 0, 0, 0}, new float[] {0, 0, 0, 0});
        kl(e, "t == 0 with x == -inf is NaN", false, 1, 2,
                new float[] {NI, -1}, new float[] {0, 0.5f}, new float[] {NAN, 0.5f * (float) Math.log(0.5) + 0.5f});
        kl(e, "t == -0.0 behaves as t == 0", false, 1, 3,
                new float[] {NI, -3, 5}, new float[] {-0f, -0f, -0f}, new float[] {NAN, 0, 0});
        kl(e, "t > 0 with x == -inf is +inf", false, 1, 2,
                new float[] {NI, -1}, new float[] {0.5f, 0.5f}, new float[] {PI, 0.5f * (float) Math.log(0.5) + 0.5f});
        kl(e, "t > 0 with x == +inf is -inf", false, 1, 2,
                new float[] {PI, -1}, new float[] {0.5f, 0.5f}, new float[] {NI, 0.5f * (float) Math.log(0.5) + 0.5f});
        kl(e, "+inf and -inf terms sum to NaN", false, 1, 2,
                new float[] {NI, PI}, new float[] {0.5f, 0.5f}, new float[] {PI, NI});
        kl(e, "NaN input is NaN at that element", false, 2, 2,
                new float[] {NAN, -1, -1, -1}, new float[] {0.5f, 0.5f, 0.5f, 0.5f},
                new float[] {NAN, 0.5f * (float) Math.log(0.5) + 0.5f, 0.5f * (float) Math.log(0.5) + 0.5f,
                        0.5f * (float) Math.log(0.5) + 0.5f});
        kl(e, "NaN input with t == 0 is NaN", false, 1, 2,
                new float[] {NAN, -1}, new float[] {0, 1}, new float[] {NAN, 1});
        kl(e, "NaN target is NaN", false, 1, 2,
                new float[] {-1, -1}, new float[] {NAN, 1}, new float[] {NAN, 1});
        kl(e, "a negative target is NaN (xlogy of a negative number)", false, 1, 2,
                new float[] {-1, -1}, new float[] {-0.5f, 1}, new float[] {NAN, 1});
        kl(e, "t == +inf is +inf, or NaN when x > 0 (inf - inf)", false, 1, 2,
                new float[] {-1, 1}, new float[] {PI, PI}, new float[] {PI, NAN});
        kl(e, "subnormal targets are not zero: with x == -inf they give +inf", false, 1, 5,
                new float[] {-100, -100, -100, NI, NI}, new float[] {TINY, 1e-40f, 1e-38f, TINY, 1e-40f},
                null);
        // Finite terms whose sum overflows float: SUM (and BATCHMEAN of one row) is +inf. Not MEAN: PyTorch gives
        // +inf there too (it divides an overflowed float sum), but the exact mean, 3e38, is finite and a device that
        // accumulates in double may return it; that is not asserted either way.
        Shape two = new Shape(1, 2);
        float[] hugeX = {-3e38f, -3e38f};
        float[] ones = {1, 1};
        e.add(new Edge("finite terms whose sum overflows", Kind.KL, Reduction.NONE, false, two, hugeX, ones, null,
                new float[] {3e38f, 3e38f}));
        e.add(new Edge("finite terms whose sum overflows", Kind.KL, Reduction.SUM, false, two, hugeX, ones, null,
                new float[] {PI}));
        e.add(new Edge("finite terms whose sum overflows", Kind.KL, Reduction.BATCHMEAN, false, two, hugeX, ones,
                null, new float[] {PI}));
        // kl_div pointwise, logTarget true: exp(t) * (t - x)
        kl(e, "log target -inf is NaN (0 * -inf)", true, 1, 3,
                new float[] {-1, NI, 0}, new float[] {NI, NI, 0}, new float[] {NAN, NAN, 0});
        kl(e, "log target with x == -inf is +inf, with x == +inf -inf", true, 1, 2,
                new float[] {NI, PI}, new float[] {-1, -1}, new float[] {PI, NI});
        kl(e, "log target +inf is +inf", true, 1, 1, new float[] {0}, new float[] {PI}, new float[] {PI});
        kl(e, "NaN input or log target is NaN", true, 1, 3,
                new float[] {NAN, 0, 0}, new float[] {0, NAN, 0}, new float[] {NAN, NAN, 0});
        kl(e, "very negative log targets give subnormal terms", true, 1, 3,
                new float[] {0, 0, 0}, new float[] {-100, -103, -80}, null);

        // kl_div backward: -(g * t) (or -(g * exp(t))), g divided by the reduction's divisor
        for (Reduction r : Reduction.values()) {
            boolean none = r == Reduction.NONE;
            e.add(new Edge("the gradient ignores the input, even NaN and infinities", Kind.KL_BACKWARD, r, false,
                    new Shape(1, 4), none ? new float[] {1, 1, 1, 1} : new float[] {1},
                    new float[] {NAN, NI, PI, -1}, new float[] {0.2f, 0.3f, 0.5f, 0}, null));
            e.add(new Edge("t == 0 gives a zero gradient; a NaN target a NaN one", Kind.KL_BACKWARD, r, false,
                    new Shape(1, 3), none ? new float[] {2, 2, 2} : new float[] {2},
                    new float[] {-1, -1, -1}, new float[] {0, NAN, 1}, null));
            e.add(new Edge("an infinite gradOutput: inf * 0 is NaN", Kind.KL_BACKWARD, r, false,
                    new Shape(1, 2), none ? new float[] {PI, PI} : new float[] {PI},
                    new float[] {-1, -1}, new float[] {0, 0.5f}, new float[] {NAN, NI}));
            e.add(new Edge("a NaN gradOutput", Kind.KL_BACKWARD, r, false,
                    new Shape(1, 2), none ? new float[] {NAN, 1} : new float[] {NAN},
                    new float[] {-1, -1}, new float[] {0.5f, 0.5f}, null));
            e.add(new Edge("log targets -inf, +inf, NaN", Kind.KL_BACKWARD, r, true,
                    new Shape(1, 4), none ? new float[] {1, 1, 1, 1} : new float[] {1},
                    new float[] {-1, -1, -1, NAN}, new float[] {NI, PI, NAN, 0}, null));
        }

        // batch reductions
        red(e, "NaN", 2, 2, new float[] {1, NAN, 2, 3});
        red(e, "+inf", 2, 2, new float[] {1, PI, 2, 3});
        red(e, "+inf and -inf make NaN", 2, 2, new float[] {PI, 0, 0, NI});
        // overflow: SUM and ROW_SUM only (see the kl_div overflow case for why not MEAN)
        e.add(new Edge("a sum that overflows float is +inf", Kind.SUM, null, false, two, new float[] {3e38f, 3e38f},
                null, null, new float[] {PI}));
        e.add(new Edge("a sum that overflows float is +inf", Kind.ROW_SUM, null, false, two,
                new float[] {3e38f, 3e38f}, null, null, new float[] {PI}));
        red(e, "-inf", 1, 3, new float[] {NI, 1, 2});
        return e;
    }

    private static void both(List<Edge> e, String name, int rows, int cols, float[] x, float[] logSoftmax,
                             float[] softmax) {
        e.add(new Edge(name, Kind.LOG_SOFTMAX, null, false, new Shape(rows, cols), x, null, null, logSoftmax));
        e.add(new Edge(name, Kind.SOFTMAX, null, false, new Shape(rows, cols), x, null, null, softmax));
    }

    /** kl_div NONE with the explicit values, and every reduction, oracle only. */
    private static void kl(List<Edge> e, String name, boolean logTarget, int rows, int cols, float[] input,
                           float[] target, float[] none) {
        Shape s = new Shape(rows, cols);
        e.add(new Edge(name, Kind.KL, Reduction.NONE, logTarget, s, input, target, null, none));
        for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCHMEAN}) {
            e.add(new Edge(name, Kind.KL, r, logTarget, s, input, target, null, null));
        }
    }

    private static void red(List<Edge> e, String name, int rows, int cols, float[] x) {
        for (Kind k : new Kind[] {Kind.SUM, Kind.MEAN, Kind.ROW_SUM}) {
            e.add(new Edge(name, k, null, false, new Shape(rows, cols), x, null, null, null));
        }
    }

    static float[] filled(int n, float v) {
        return Data.filled(n, v);
    }

    // ---- the tests ----------------------------------------------------------------------------------------

    static Stream<Arguments> deviceCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Edge c : cases()) {
                out.add(Arguments.of(d, c));
            }
        }
        return out.stream();
    }

    static Stream<Edge> explicitCases() {
        return cases().stream().filter(c -> c.expected() != null);
    }

    /** The device gives what PyTorch gives, and what the case states. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("deviceCases")
    void device(Device d, Edge c) {
        float[] torch = oracle(c);
        float[] got = onDevice(d, c);
        Approx.assertClose(d + ": " + c + " " + inputs(c) + ", against PyTorch " + Arrays.toString(torch),
                torch, got, c.resultShape().cols(), Approx.REL, 1e-40);
        if (c.expected() != null) {
            Approx.assertClose(d + ": " + c + " " + inputs(c), c.expected(), got, c.resultShape().cols(), 1e-6, 1e-6);
        }
    }

    /** PyTorch itself gives the values the case states (so the statements above are PyTorch's semantics). */
    @ParameterizedTest(name = "PyTorch {0}")
    @MethodSource("explicitCases")
    void pytorchAgrees(Edge c) {
        Approx.assertClose("TorchOracle: " + c + " " + inputs(c), c.expected(), oracle(c), c.resultShape().cols(),
                1e-6, 1e-6);
    }

    static String inputs(Edge c) {
        StringBuilder sb = new StringBuilder("with ");
        for (float[] v : new float[][] {c.a(), c.b(), c.c()}) {
            if (v != null) {
                sb.append(v.length > 8 ? "(" + v.length + " values)" : Arrays.toString(v)).append(' ');
            }
        }
        return sb.toString().trim();
    }

    static float[] oracle(Edge c) {
        Shape s = c.shape();
        int r = s.rows();
        int k = s.cols();
        switch (c.kind()) {
            case LOG_SOFTMAX:
                return TorchOracle.logSoftmax(c.a(), r, k);
            case SOFTMAX:
                return TorchOracle.softmax(c.a(), r, k);
            case LOG_SOFTMAX_BACKWARD:
                return TorchOracle.logSoftmaxBackward(c.a(), c.b(), r, k);
            case KL:
                return TorchOracle.klDiv(c.a(), c.b(), r, k, c.reduction(), c.logTarget());
            case KL_BACKWARD:
                return TorchOracle.klDivBackward(c.a(), c.b(), c.c(), r, k, c.reduction(), c.logTarget());
            case SUM:
                return new float[] {TorchOracle.sum(c.a(), r, k)};
            case MEAN:
                return new float[] {TorchOracle.mean(c.a(), r, k)};
            case ROW_SUM:
                return TorchOracle.rowSum(c.a(), r, k);
            default:
                throw new AssertionError(c.kind());
        }
    }

    static float[] onDevice(Device d, Edge c) {
        Shape s = c.shape();
        try (Scope sc = new Scope()) {
            Tensor out;
            switch (c.kind()) {
                case LOG_SOFTMAX:
                    out = sc.add(d.logSoftmax(sc.upload(d, c.a(), s)));
                    break;
                case SOFTMAX:
                    out = sc.add(d.softmax(sc.upload(d, c.a(), s)));
                    break;
                case LOG_SOFTMAX_BACKWARD:
                    float[] y = TorchOracle.logSoftmax(c.b(), s.rows(), s.cols());
                    out = sc.add(d.logSoftmaxBackward(sc.upload(d, c.a(), s), sc.upload(d, y, s)));
                    break;
                case KL:
                    out = sc.add(d.klDiv(sc.upload(d, c.a(), s), sc.upload(d, c.b(), s), c.reduction(), c.logTarget()));
                    break;
                case KL_BACKWARD:
                    Tensor g = c.reduction() == Reduction.NONE ? sc.upload(d, c.a(), s) : sc.add(d.upload(c.a(), 1, 1));
                    out = sc.add(d.klDivBackward(g, sc.upload(d, c.b(), s), sc.upload(d, c.c(), s), c.reduction(),
                            c.logTarget()));
                    break;
                case SUM:
                    out = sc.add(d.sum(sc.upload(d, c.a(), s)));
                    break;
                case MEAN:
                    out = sc.add(d.mean(sc.upload(d, c.a(), s)));
                    break;
                case ROW_SUM:
                    out = sc.add(d.rowSum(sc.upload(d, c.a(), s)));
                    break;
                default:
                    throw new AssertionError(c.kind());
            }
            assertEquals(c.resultShape().toString(), "[" + out.rows() + ", " + out.cols() + "]", "result shape");
            return out.toArray();
        }
    }
}
