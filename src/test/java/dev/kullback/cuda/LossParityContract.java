package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.Devices;
import dev.kullback.LossCase;
import dev.kullback.LossCase.Ignore;
import dev.kullback.LossCase.Op;
import dev.kullback.Reference;
import dev.kullback.Reduction;
import dev.kullback.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every loss of the CUDA device (value and every gradient), every option, on a grid of shapes that reaches every
 * launch branch (warp per row and block per row with each block size, float4 bodies and scalar tails), against the
 * float64 {@link Reference} and the CPU device (which LossTorchParityTest holds to PyTorch too). The cases are
 * the catalog's ({@link LossCase}); edge data (rows = 3, {@link LossCase#edges}): a column that is -inf in both
 * logits (a masked vocabulary entry), +-1000 logits, out-of-range probabilities, extreme log-variances.
 * A subclass supplies the CUDA device: a real GPU, or the host simulator.
 */
abstract class LossParityContract {
    /** The CUDA device under test; the same instance for the whole class. */
    abstract CudaDevice cuda();

    /**
     * Each case on each shape of {@link Shape#CUDA_LOSS_CONTRACT}, with edge data on 3 rows (and on 2 for the cases
     * that run on the widest shapes).
     */
    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Shape s : Shape.CUDA_LOSS_CONTRACT) {
            int rows = s.rows();
            int cols = s.cols();
            for (Case c : Case.values()) {
                if ((cols >= 32000 || cols == 1025) && !c.wide) {
                    continue;  // the largest shapes run one case of each kernel, to keep the simulated time short
                }
                if (cols == 1025 && rows == 1025 && !c.name().startsWith("CE_MEAN")) {
                    continue;  // 1,025 long rows: only where a kernel counts the divisor (ce_divisors)
                }
                cases.add(Arguments.of(c, rows, cols, false));
                if (rows == 3 || (rows == 2 && c.wide)) {
                    cases.add(Arguments.of(c, rows, cols, true));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} [{1}, {2}] edge values {3}")
    @MethodSource("cases")
    void matchesCpu(Case c, int rows, int cols, boolean edges) {
        assertMatchesCpu(cuda(), c, rows, cols, edges);
    }

    /**
     * Every output (value and gradients) of {@code c} on {@code cuda} matches the float64 reference (clean data) and
     * the CPU device (clean and edge data), within {@link LossCase#assertMatches}'s tolerances: relative to each
     * quantity's scale (the magnitude of the terms a value adds up, the largest gradient of a row), never absolute.
     */
    static void assertMatchesCpu(CudaDevice cuda, Case c, int rows, int cols, boolean edges) {
        LossCase lc = c.at(new Shape(rows, cols)).edges(edges);
        String what = c + " " + lc;
        LossCase.Out expected = lc.run(Devices.cpu());
        LossCase.Out actual = lc.run(cuda);
        Reference.Result ref = lc.reference();
        if (!edges) {
            LossCase.assertMatches(what + " vs float64 reference", LossCase.toFloat(ref), actual, ref, cols);
        }
        // never looser than this suite's earlier bound: 1e-4 (values: 1e-4 sqrt(cols) + 1e-4) of max(1, |expected|)
        double valueCeiling = 1e-4 * Math.sqrt(cols) + 1e-4;
        LossCase.assertMatches(what + " vs CPU", expected, actual, LossCase.finiteScale(ref), cols,
                (output, e) -> (output == 0 ? valueCeiling : 1e-4) * Math.max(1, Math.abs(e)));
    }
    /** The catalog's cases this contract runs: every loss kernel, each reduction and option at least once. */
    enum Case {
        DISTILL_BATCHMEAN(true, s -> distill(s, Reduction.BATCHMEAN)),
        DISTILL_NONE_T2(false, s -> distill(s, Reduction.NONE).temperature(2f)),
        DISTILL_MEAN_IGNORE(false, s -> distill(s, Reduction.MEAN).temperature(0.5f).ignore(Ignore.SOME)),
        DISTILL_REVERSE_BATCHMEAN_IGNORE(true, s -> distill(s, Reduction.BATCHMEAN).temperature(2f).reverse(true)
                .ignore(Ignore.SOME)),
        DISTILL_REVERSE_SUM(false, s -> distill(s, Reduction.SUM).reverse(true)),
        DISTILL_NONE_ALL_IGNORED(false, s -> distill(s, Reduction.NONE).ignore(Ignore.ALL)),
        DISTILL_BATCHMEAN_ALL_IGNORED(false, s -> distill(s, Reduction.BATCHMEAN).ignore(Ignore.ALL)),
        CE_MEAN(true, s -> ce(s, Reduction.MEAN).ignore(Ignore.SOME)),
        CE_NONE(false, s -> ce(s, Reduction.NONE).ignore(Ignore.SOME)),
        CE_SUM_WEIGHTS_SMOOTHING(false, s -> ce(s, Reduction.SUM).ignore(Ignore.SOME).weights(true).smoothing(0.1f)),
        CE_MEAN_WEIGHTS_SMOOTHING_ZLOSS(true, s -> ce(s, Reduction.MEAN).ignore(Ignore.SOME).weights(true)
                .smoothing(0.2f).zLoss(1e-3f)),
        CE_NONE_SMOOTHING_ZLOSS(false, s -> ce(s, Reduction.NONE).ignore(Ignore.SOME).smoothing(0.3f).zLoss(1e-2f)),
        CE_MEAN_ALL_IGNORED(false, s -> ce(s, Reduction.MEAN).ignore(Ignore.ALL).weights(true)),
        CE_MEAN_CLASS_ZERO(false, s -> ce(s, Reduction.MEAN).ignore(Ignore.CLASS_ZERO).weights(true)),
        SOFT_CE_MEAN(true, s -> new LossCase(Op.SOFT_CROSS_ENTROPY, s, Reduction.MEAN)),
        SOFT_CE_NONE_WEIGHTS_SMOOTHING_ZLOSS(false, s -> new LossCase(Op.SOFT_CROSS_ENTROPY, s, Reduction.NONE)
                .weights(true).smoothing(0.1f).zLoss(1e-3f)),
        SOFT_CE_SUM_WEIGHTS(false, s -> new LossCase(Op.SOFT_CROSS_ENTROPY, s, Reduction.SUM).weights(true)),
        JSD_HALF_BATCHMEAN(true, s -> new LossCase(Op.JSD, s, Reduction.BATCHMEAN).beta(0.5f)),
        JSD_0_NONE(false, s -> new LossCase(Op.JSD, s, Reduction.NONE).beta(0f)),
        JSD_1_SUM(false, s -> new LossCase(Op.JSD, s, Reduction.SUM).beta(1f)),
        JSD_03_MEAN(false, s -> new LossCase(Op.JSD, s, Reduction.MEAN).beta(0.3f)),
        SYMMETRIC_KL_BATCHMEAN(true, s -> new LossCase(Op.SYMMETRIC_KL, s, Reduction.BATCHMEAN)),
        SYMMETRIC_KL_NONE(false, s -> new LossCase(Op.SYMMETRIC_KL, s, Reduction.NONE)),
        ENTROPY_MEAN(true, s -> new LossCase(Op.ENTROPY, s, Reduction.MEAN)),
        ENTROPY_NONE(false, s -> new LossCase(Op.ENTROPY, s, Reduction.NONE)),
        ENTROPY_SUM(false, s -> new LossCase(Op.ENTROPY, s, Reduction.SUM)),
        KERAS_KL_BATCHMEAN(true, s -> new LossCase(Op.KERAS_KL, s, Reduction.BATCHMEAN)),
        KERAS_KL_NONE_BITS(false, s -> new LossCase(Op.KERAS_KL, s, Reduction.NONE).bits(true)),
        KERAS_KL_MEAN_BITS(false, s -> new LossCase(Op.KERAS_KL, s, Reduction.MEAN).bits(true)),
        GAUSSIAN_KL_SUM(true, s -> new LossCase(Op.GAUSSIAN_KL, s, Reduction.SUM)),
        GAUSSIAN_KL_NONE(false, s -> new LossCase(Op.GAUSSIAN_KL, s, Reduction.NONE)),
        GAUSSIAN_KL_STANDARD_BATCHMEAN(true, s -> new LossCase(Op.GAUSSIAN_KL, s, Reduction.BATCHMEAN).standard(true)),
        GAUSSIAN_KL_STANDARD_MEAN(false, s -> new LossCase(Op.GAUSSIAN_KL, s, Reduction.MEAN).standard(true)),
        TVD_BATCHMEAN(true, s -> new LossCase(Op.TVD, s, Reduction.BATCHMEAN)),
        TVD_NONE_IGNORE(false, s -> new LossCase(Op.TVD, s, Reduction.NONE).ignore(Ignore.SOME)),
        TVD_MEAN_IGNORE(false, s -> new LossCase(Op.TVD, s, Reduction.MEAN).ignore(Ignore.SOME)),
        TVD_SUM_ALL_IGNORED(false, s -> new LossCase(Op.TVD, s, Reduction.SUM).ignore(Ignore.ALL));

        final boolean wide;
        private final Function<Shape, LossCase> at;

        Case(boolean wide, Function<Shape, LossCase> at) {
            this.wide = wide;
            this.at = at;
        }

        /** A fresh catalog case of this kind on {@code shape}. */
        LossCase at(Shape shape) {
            return at.apply(shape);
        }

        private static LossCase distill(Shape s, Reduction r) {
            return new LossCase(Op.DISTILLATION, s, r);
        }

        private static LossCase ce(Shape s, Reduction r) {
            return new LossCase(Op.CROSS_ENTROPY, s, r);
        }
    }
}
