package dev.kullback;

import java.util.ArrayDeque;
import java.util.Deque;

/** Closes every tensor it was given, last first: {@code try (Scope s = new Scope()) { Tensor t = s.add(...); }}. */
public final class Scope implements AutoCloseable {
    private final Deque<Tensor> tensors = new ArrayDeque<>();

    public Tensor add(Tensor t) {
        if (t == null) {
            throw new AssertionError("a device operation returned null");
        }
        tensors.push(t);
        return t;
    }

    /** Uploads and keeps the tensor. */
    public Tensor upload(Device d, float[] data, Shape s) {
        return add(d.upload(data, s.rows(), s.cols()));
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!tensors.isEmpty()) {
            try {
                tensors.pop().close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
