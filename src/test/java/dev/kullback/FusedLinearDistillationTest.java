package dev.kullback;

import static dev.kullback.FusedLinearTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.FusedLinearTest.Dims;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused linear distillation on every device against PyTorch autograd of {@code T² · kl_div(log_softmax(hs @ Ws.T
 * / T), softmax(ht @ Wt.T / T))} (reverse: KL(student || teacher)), every reduction, ignored rows in every chunk and
 * a chunk with every row ignored, chunks of 1, 7 and all rows, a teacher with another hidden size. Tolerances as in
 * {@link FusedLinearTest}.
 */
class FusedLinearDistillationTest {
    record Opts(Reduction reduction, float temperature, boolean reverse, int ignore, float softCap, float weightHard,
                float weightSoft) {
        Opts(Reduction reduction, float temperature, boolean reverse, int ignore) {
            this(reduction, temperature, reverse, ignore, 0f);
        }

        Opts(Reduction reduction, float temperature, boolean reverse, int ignore, float softCap) {
            this(reduction, temperature, reverse, ignore, softCap, 0f, 1f);
        }

        @Override
        public String toString() {
            return reduction + " T " + temperature + (reverse ? " reverse" : "")
                    + (ignore < 0 ? " no labels" : ignore == 0 ? "" : ignore == 1 ? " some ignored" : " a chunk all ignored")
                    + (softCap != 0 ? " soft cap " + softCap : "")
                    + (weightHard != 0 ? " hard " + weightHard + " soft " + weightSoft : "");
        }
    }

    static final List<Opts> OPTS = List.of(
            new Opts(Reduction.BATCHMEAN, 1f, false, -1),
            new Opts(Reduction.BATCHMEAN, 2f, true, 1),
            new Opts(Reduction.SUM, 0.5f, false, 2),
            new Opts(Reduction.MEAN, 4f, true, 2),
            new Opts(Reduction.NONE, 2f, false, 1),
            new Opts(Reduction.NONE, 1f, true, -1),
            new Opts(Reduction.MEAN, 1f, false, 0),
            new Opts(Reduction.BATCHMEAN, 2f, false, 1, 2f),
            new Opts(Reduction.SUM, 1f, true, -1, 1.5f),
            new Opts(Reduction.BATCHMEAN, 2f, false, 1, 0f, 0.5f, 0.5f),
            new Opts(Reduction.SUM, 1f, true, 2, 2f, 0.3f, 1f),
            new Opts(Reduction.NONE, 1f, false, 1, 0f, 1f, 0.25f),
            new Opts(Reduction.MEAN, 2f, false, 2, 0f, 0.7f, 0.3f));

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Dims dims : FusedLinearTest.DIMS) {
                for (int chunk : new int[] {1, 7, dims.n()}) {
                    for (Opts o : OPTS) {
                        if (d.isGpu() && dims.v() > 1000 && chunk == 1) {
                            continue;
                        }
                        out.add(Arguments.of(d, dims, chunk, o));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} chunk {2}: {3}", autoCloseArguments = false)
    @MethodSource("cases")
    void matchesTorch(Device device, Dims dims, int chunk, Opts o) {
        Random random = new Random(dims.n() * 17L + dims.v() + chunk);
        int n = dims.n();
        int hs = dims.h();
        int ht = dims.h() + 3;
        int v = dims.v();
        float[] sh = FusedLinearTest.values(random, n * hs, 1f);
        float[] sw = FusedLinearTest.values(random, v * hs, 0.7f);
        float[] th = FusedLinearTest.values(random, n * ht, 1f);
        float[] tw = FusedLinearTest.values(random, v * ht, 0.7f);
        int[] y = o.ignore() < 0 ? null : FusedLinearTest.labels(n, v, o.ignore(), random);
        TorchOracle.LossOut want = TorchLinearOracle.distillation(sh, sw, th, tw, n, hs, ht, v, o.temperature(),
                o.reverse(), o.reduction(), y, -100, o.softCap(), o.weightHard(), o.weightSoft());
        try (Tensor a = device.upload(sh, n, hs);
             Tensor b = device.upload(sw, v, hs);
             Tensor c = device.upload(th, n, ht);
             Tensor d = device.upload(tw, v, ht);
             Labels labels = y == null ? null : device.uploadLabels(y)) {
            Distillation options = Distillation.options().reduction(o.reduction()).temperature(o.temperature())
                    .reverse(o.reverse()).softCap(o.softCap());
            if (labels != null) {
                options = options.ignore(labels, -100);
            }
            if (o.weightHard() != 0) {
                options = options.hardLoss(o.weightHard(), o.weightSoft());
            }
            try (Loss loss = device.linearDistillationKl(a, b, c, d, options, Chunking.rows(chunk))) {
                assertEquals(2, loss.gradientCount());
                assertClose("value", want.value(), loss.value().toArray());
                assertClose("grad hidden", want.grads()[0], loss.gradient(0).toArray());
                assertClose("grad weight", want.grads()[1], loss.gradient(1).toArray());
            }
        }
    }
}
