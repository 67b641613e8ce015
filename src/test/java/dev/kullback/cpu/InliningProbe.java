package dev.kullback.cpu;

import dev.kullback.Distillation;
import dev.kullback.GradientMemory;
import dev.kullback.Labels;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.Random;

/**
 * A workload for {@link VectorInliningTest}: run with {@code -XX:+PrintInlining}, every
 * operation in both modes, on row lengths that go row-parallel and chunk-parallel, long enough for C2. Argument
 * "kl" runs only kl_div in both target modes, alternating (the case where two heavy loops share call sites);
 * "losses" runs the two-distribution losses (jsd with beta 0, 1 and between, symmetric KL) and distillation (forward
 * and reverse); "alternate" runs only two ops, entropy and jsd, alternating: both are phases of the one row schedule,
 * so its call sites see exactly two receivers, the case where C2 could inline both ops' phases into one compilation;
 * "inplace" runs entropy, jsd and distillation out of place and in place in turn (issue 14: each in-place family
 * has its own phases class and copy of the row loops, so neither compilation grows by the other's);
 * "short" runs the short-row kernels (softmax, log-softmax, its backward, and the statistics of cross-entropy and
 * distillation, several rows per call) in turn on rows of 32 and 128 values; "bf16" runs bf16 log-softmax (issue 10:
 * the kernels that convert in their loops, rows and chunks in parallel), cross-entropy and distillation on bf16.
 */
public final class InliningProbe {
    public static void main(String[] args) {
        boolean klOnly = args.length > 0 && args[0].equals("kl");
        boolean losses = args.length > 0 && args[0].equals("losses");
        boolean alternate = args.length > 0 && args[0].equals("alternate");
        boolean inPlace = args.length > 0 && args[0].equals("inplace");
        Random random = new Random(1);
        try (CpuDevice d = new CpuDevice(2, true)) {
            if (args.length > 0 && args[0].equals("bf16")) {
                bf16(d, random);
                System.out.println("probe done");
                return;
            }
            if (args.length > 0 && args[0].equals("short")) {
                shortRows(d, random);
                System.out.println("probe done");
                return;
            }
            for (int[] shape : new int[][] {{64, 4096}, {2, 40000}, {512, 33}}) {
                int rows = shape[0];
                int cols = shape[1];
                float[] x = new float[rows * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) random.nextGaussian();
                }
                if (alternate) {
                    alternate(d, x, rows, cols);
                    continue;
                }
                if (inPlace) {
                    inPlace(d, x, rows, cols);
                    continue;
                }
                try (Tensor xt = d.upload(x, rows, cols); Tensor y = d.logSoftmax(xt); Tensor p = d.softmax(xt)) {
                    long end = System.nanoTime() + 600_000_000L;
                    while (System.nanoTime() < end) {
                        if (losses) {
                            d.jsd(xt, p, 0.5f, Reduction.BATCHMEAN).close();
                            d.jsd(xt, p, 0f, Reduction.BATCHMEAN).close();
                            d.jsd(xt, p, 1f, Reduction.BATCHMEAN).close();
                            d.symmetricKl(xt, p, Reduction.BATCHMEAN).close();
                            d.distillationKl(xt, y, Distillation.options().temperature(2f)).close();
                            d.distillationKl(xt, y, Distillation.options().temperature(2f).reverse(true)).close();
                            continue;
                        }
                        if (!klOnly) {
                            d.logSoftmax(xt).close();
                            d.softmax(xt).close();
                            d.logSoftmaxBackward(xt, y).close();
                            d.sum(xt).close();
                            d.rowSum(xt).close();
                        }
                        for (boolean logTarget : new boolean[] {false, true}) {
                            Tensor t = logTarget ? y : p;
                            d.klDiv(y, t, Reduction.NONE, logTarget).close();
                            d.klDiv(y, t, Reduction.SUM, logTarget).close();
                            d.klDivBackward(xt, y, t, Reduction.NONE, logTarget).close();
                        }
                    }
                }
            }
        }
        System.out.println("probe done");
    }

    /** bf16 log-softmax, cross-entropy and distillation in turn, rows in parallel and few long rows by chunks. */
    private static void bf16(CpuDevice d, Random random) {
        for (int[] shape : new int[][] {{64, 4096}, {2, 40000}}) {
            int rows = shape[0];
            int cols = shape[1];
            float[] v = new float[rows * cols];
            int[] l = new int[rows];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            for (int r = 0; r < rows; r++) {
                l[r] = random.nextInt(cols);
            }
            try (Tensor x = d.upload(v, rows, cols, dev.kullback.DType.BFLOAT16); Labels y = d.uploadLabels(l)) {
                long end = System.nanoTime() + 1_500_000_000L;
                while (System.nanoTime() < end) {
                    d.logSoftmax(x).close();
                    d.crossEntropy(x, y).close();
                    d.distillationKl(x, x, Distillation.options().temperature(2f)).close();
                }
            }
        }
    }

    /** The short-row ops in turn, on two row lengths. */
    private static void shortRows(CpuDevice d, Random random) {
        int[][] shapes = {{512, 128}, {2048, 32}};
        Tensor[] x = new Tensor[2];
        Tensor[] y = new Tensor[2];
        Labels[] labels = new Labels[2];
        for (int s = 0; s < 2; s++) {
            int rows = shapes[s][0];
            int cols = shapes[s][1];
            float[] v = new float[rows * cols];
            int[] l = new int[rows];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            for (int r = 0; r < rows; r++) {
                l[r] = random.nextInt(cols);
            }
            x[s] = d.upload(v, rows, cols);
            y[s] = d.logSoftmax(x[s]);
            labels[s] = d.uploadLabels(l);
        }
        long end = System.nanoTime() + 3_000_000_000L;
        while (System.nanoTime() < end) {
            for (int s = 0; s < 2; s++) {
                d.logSoftmax(x[s]).close();
                d.softmax(x[s]).close();
                d.logSoftmaxBackward(x[s], y[s]).close();
                d.crossEntropy(x[s], labels[s]).close();
                d.distillationKl(x[s], y[s], Distillation.options().temperature(2f)).close();
            }
        }
        for (int s = 0; s < 2; s++) {
            x[s].close();
            y[s].close();
        }
    }

    /** Entropy and jsd in turn, and no other op that runs on the row schedule: two receivers at its call sites. */
    private static void alternate(CpuDevice d, float[] x, int rows, int cols) {
        float[] teacher = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            teacher[i] = 0.5f * x[(i * 7) % x.length];
        }
        try (Tensor xt = d.upload(x, rows, cols); Tensor tt = d.upload(teacher, rows, cols)) {
            long end = System.nanoTime() + 600_000_000L;
            while (System.nanoTime() < end) {
                d.entropy(xt, Reduction.BATCHMEAN).close();
                d.jsd(xt, tt, 0.5f, Reduction.BATCHMEAN).close();
            }
        }
    }

    /** Entropy, jsd and distillation, each out of place and then in place on a fresh copy of the logits. */
    private static void inPlace(CpuDevice d, float[] x, int rows, int cols) {
        GradientMemory in = GradientMemory.IN_PLACE;
        try (Tensor xt = d.upload(x, rows, cols); Tensor tt = d.softmax(xt)) {
            long end = System.nanoTime() + 600_000_000L;
            while (System.nanoTime() < end) {
                d.entropy(xt, Reduction.BATCHMEAN).close();
                d.entropy(d.upload(x, rows, cols), Reduction.BATCHMEAN, in).close();
                d.jsd(xt, tt, 0.5f, Reduction.BATCHMEAN).close();
                d.jsd(d.upload(x, rows, cols), d.softmax(xt), 0.5f, Reduction.BATCHMEAN, in).close();
                d.distillationKl(xt, tt, Distillation.options().temperature(2f)).close();
                d.distillationKl(d.upload(x, rows, cols), tt, Distillation.options().temperature(2f).inPlace(true))
                        .close();
            }
        }
    }
}
