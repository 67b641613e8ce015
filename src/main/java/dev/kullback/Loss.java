package dev.kullback;

import java.util.List;

/**
 * A loss and its gradients, computed together in one fused pass over the inputs. {@link #value()} is [1, 1]
 * for a reduction and [rows, 1] (each row's loss) for {@link Reduction#NONE}; {@link #gradient(int)} is the
 * gradient of the value with respect to input {@code i} (for NONE, of the sum of the rows' losses), shaped
 * like that input. Closing a Loss closes all of its tensors: for a loss computed in place ({@link GradientMemory}),
 * whose gradients are the consumed inputs themselves, that closes those inputs (closing them again is harmless).
 */
public final class Loss implements AutoCloseable {
    private final Tensor value;
    private final List<Tensor> gradients;

    public Loss(Tensor value, List<Tensor> gradients) {
        this.value = value;
        this.gradients = List.copyOf(gradients);
    }

    /** The loss: [1, 1] for a reduction, [rows, 1] for NONE. */
    public Tensor value() {
        return value;
    }

    /** The gradient with respect to the first input (the student's logits, the logits, the predictions, mu1). */
    public Tensor gradient() {
        return gradient(0);
    }

    /** The gradient with respect to input {@code input}, counted from 0 in the order of the call's arguments. */
    public Tensor gradient(int input) {
        if (input < 0 || input >= gradients.size()) {
            throw new IllegalArgumentException("this loss has gradients for inputs 0.." + (gradients.size() - 1)
                    + ", not " + input);
        }
        return gradients.get(input);
    }

    /** How many inputs have a gradient. */
    public int gradientCount() {
        return gradients.size();
    }

    @Override
    public void close() {
        value.close();
        gradients.forEach(Tensor::close);
    }
}
