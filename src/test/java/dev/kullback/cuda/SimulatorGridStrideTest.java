package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Data;
import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Scope;
import dev.kullback.Shape;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The grid-stride loops of the flat kernels (kl_div pointwise, backward and partial sums; reduce.cu's partial sums)
 * through many passes: at the real grid cap a pointwise kernel takes a second pass only above ~67M elements, so here
 * the grid is capped at {@link #CAP} blocks ({@link Launch#flatGridCap}) and every result is compared with the
 * float64 {@link Reference}, on the host simulator. Element counts are odd, so the scalar head and tail of the
 * float4 split take part too.
 */
class SimulatorGridStrideTest {
    private static final int CAP = 3;
    private static final List<Shape> SHAPES = List.of(new Shape(3, 4099), new Shape(1, 262147));
    private static CudaDevice simulated;
    private static int previousCap;

    @BeforeAll
    static void open() {
        simulated = new CudaDevice(SimGpus.open());
        previousCap = Launch.flatGridCap(CAP);
    }

    @AfterAll
    static void close() {
        Launch.flatGridCap(previousCap);
        if (simulated != null) {
            simulated.close();
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Shape s : SHAPES) {
            for (Reduction r : Reduction.values()) {
                out.add(Arguments.of(s, r, false));
                out.add(Arguments.of(s, r, true));
            }
        }
        return out.stream();
    }

    /** More than one pass per thread: the grid's float4 slots cover only part of the tensor. */
    private static void assertManyPasses(Shape s) {
        long slots = (long) Launch.flatGrid(s.size()) * Launch.FLAT_BLOCK * 4;
        assertTrue(slots * 3 <= s.size(), s + ": the capped grid covers " + slots + " elements per pass");
        long partialSlots = (long) Launch.partials(s.size()) * Launch.FLAT_BLOCK * 4;
        assertTrue(partialSlots * 3 <= s.size(), s + ": the capped partial sums cover " + partialSlots + " per pass");
    }

    @ParameterizedTest(name = "klDiv {0} {1} logTarget={2}")
    @MethodSource("cases")
    void klDivAndBackward(Shape s, Reduction r, boolean logTarget) {
        assertManyPasses(s);
        Random rnd = Data.random("grid stride", s, r, logTarget);
        float[] input = Data.logProbs(rnd, s);
        float[] target = logTarget ? Data.logProbs(rnd, s) : Data.probs(rnd, s, 0.25);
        float[] g = r == Reduction.NONE ? Data.normal(rnd, s) : new float[] {0.75f};
        double[] scale = Reference.klDivScale(input, target, logTarget);
        String what = "klDiv " + s + " " + r + " logTarget=" + logTarget;
        try (Scope sc = new Scope()) {
            Tensor x = sc.upload(simulated, input, s);
            Tensor t = sc.upload(simulated, target, s);
            Tensor out = sc.add(simulated.klDiv(x, t, r, logTarget));
            if (r == Reduction.NONE) {
                Reference.assertClose(what, Reference.klDiv(input, target, logTarget), out.toArray(), scale, 2e-6, 0);
            } else {
                double divisor = Reference.divisor(r, s.rows(), s.cols());
                Reference.assertClose(what, Reference.klDiv(input, target, s.rows(), s.cols(), r, logTarget),
                        out.item(), Reference.sum(scale) / divisor, 2e-6, 0);
            }
            Tensor gradOut = r == Reduction.NONE ? sc.upload(simulated, g, s) : sc.add(simulated.upload(g, 1, 1));
            Tensor gi = sc.add(simulated.klDivBackward(gradOut, x, t, r, logTarget));
            Reference.assertClose(what + " backward", Reference.klDivBackward(g, target, s.rows(), s.cols(), r, logTarget),
                    gi.toArray(), 1e-6, 0);
        }
    }

    @ParameterizedTest(name = "sum and mean {0}")
    @MethodSource("shapes")
    void sumAndMean(Shape s) {
        assertManyPasses(s);
        float[] x = Data.logits(Data.random("grid stride sum", s), s);
        double l1 = Reference.sumAbs(x);
        try (Scope sc = new Scope()) {
            Tensor t = sc.upload(simulated, x, s);
            Reference.assertClose("sum " + s, Reference.sum(x), sc.add(simulated.sum(t)).item(), l1, 2e-6, 0);
            Reference.assertClose("mean " + s, Reference.mean(x), sc.add(simulated.mean(t)).item(), l1 / s.size(),
                    2e-6, 0);
        }
    }

    static Stream<Shape> shapes() {
        return SHAPES.stream();
    }
}
