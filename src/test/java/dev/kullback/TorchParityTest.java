package dev.kullback;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operation, every reduction, both {@code logTarget} values, forward and backward ({@link OpCase#catalog}), against
 * PyTorch's own kernels ({@link TorchOracle}) on the same float32 inputs, over {@link Shape#PARITY}. The backward of
 * log-softmax is fed PyTorch's own forward output, so only the backward kernel is compared.
 *
 * <p>Tolerances ({@link OpCase#assertMatches}): elementwise results must be within 1e-5 relative of PyTorch plus a tiny
 * absolute term; where a value is a difference of larger terms (kl_div pointwise, the log-softmax gradient) the 1e-5 is
 * taken relative to those terms' magnitude. Reductions allow 1e-5 relative plus 1e-6 (about 8 float32 ulps) of the sum
 * of the magnitudes of what they add up, which is what float32 summation in any order can differ by. Each device is
 * held to the float64 {@link Reference} too, with the same tolerances (there PyTorch's normalization defect is 0).
 */
class TorchParityTest {
    static Stream<Arguments> deviceCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (OpCase c : OpCase.catalog(Shape.PARITY)) {
                out.add(Arguments.of(d, c));
            }
        }
        return out.stream();
    }

    static Stream<OpCase> cases() {
        return OpCase.catalog(Shape.PARITY).stream();
    }

    /** The device against PyTorch, and against the float64 reference with the same tolerances. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("deviceCases")
    void device(Device d, OpCase c) {
        float[] actual = c.run(d);
        c.assertMatches(d + ": " + c, c.torch(), actual);
        c.assertMatches(d + ": " + c + " vs float64 reference", LossCase.toFloat(c.reference()), actual);
    }

    /**
     * The float64 reference is within a device's tolerance of PyTorch (which allows for PyTorch's own normalization
     * defect): checks the oracle and the reference.
     */
    @ParameterizedTest(name = "oracle {0}")
    @MethodSource("cases")
    void oracleMatchesReference(OpCase c) {
        c.assertMatches("float64 reference " + c + " vs TorchOracle", c.torch(), LossCase.toFloat(c.reference()));
    }
}
