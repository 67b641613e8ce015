package dev.kullback.cuda;

import dev.kullback.DType;
import java.util.EnumMap;
import java.util.Map;

/**
 * A row-wise kernel pair ({@code <name>_warp}, {@code <name>_block}: one warp per short row, one block per long row;
 * {@link Launch#rowwise}) in its three element types: the entries {@code <name>_warp}, {@code <name>_warp_bf16},
 * {@code <name>_warp_f16} and the same for {@code _block} (kernels/README.md). Every tensor of one launch has the
 * type the launch names.
 */
final class TypedRows {
    private final Gpu gpu;
    private final Map<DType, Gpu.Function[]> pairs = new EnumMap<>(DType.class);
    /** The {@code _bf16_f32grad} / {@code _f16_f32grad} pairs: half inputs, a float32 gradient; empty if none. */
    private final Map<DType, Gpu.Function[]> float32Gradients = new EnumMap<>(DType.class);

    TypedRows(Gpu gpu, String module, String name) {
        this(gpu, module, name, false);
    }

    /** {@code withFloat32Gradients}: the family also has entries for a float32 gradient of half inputs. */
    TypedRows(Gpu gpu, String module, String name, boolean withFloat32Gradients) {
        this.gpu = gpu;
        for (DType type : DType.values()) {
            String suffix = type == DType.FLOAT32 ? "" : "_" + ConvertKernels.suffix(type);
            pairs.put(type, pair(module, name, suffix));
            if (withFloat32Gradients && type.isHalf()) {
                float32Gradients.put(type, pair(module, name, suffix + "_f32grad"));
            }
        }
    }

    private Gpu.Function[] pair(String module, String name, String suffix) {
        return new Gpu.Function[] {gpu.function(module, name + "_warp" + suffix),
            gpu.function(module, name + "_block" + suffix)};
    }

    /** Launches the pair of {@code type} over rows x cols. */
    void launch(DType type, int rows, int cols, Object... args) {
        Gpu.Function[] pair = pairs.get(type);
        Launch.rowwise(gpu, pair[0], pair[1], rows, cols, args);
    }

    /** Launches the pair whose inputs have {@code type} and whose gradient has {@code gradType}. */
    void launch(DType type, DType gradType, int rows, int cols, Object... args) {
        Gpu.Function[] pair = gradType == type ? pairs.get(type) : float32Gradients.get(type);
        if (pair == null || (gradType != type && gradType != DType.FLOAT32)) {
            throw new IllegalStateException("no kernel for " + type + " inputs with a " + gradType + " gradient");
        }
        Launch.rowwise(gpu, pair[0], pair[1], rows, cols, args);
    }
}
