package dev.kullback.cuda;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameter types of each {@code .entry} of a PTX module, so that a launch's Java arguments are checked against
 * the kernel before the driver sees them: cuLaunchKernel copies as many bytes as the parameter declares from wherever
 * each {@code kernelParams} entry points, and cannot tell a {@code long} passed for a {@code .u32} (or a missing
 * argument) from the right one.
 */
final class PtxParams {
    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+(\\.\\w+)\\s+\\w+");

    private PtxParams() {
    }

    /** Entry name to its parameters' PTX types (".u64", ".u32", ".f32", ...), in order. */
    static Map<String, List<String>> of(String ptx) {
        Map<String, List<String>> entries = new HashMap<>();
        Matcher entry = ENTRY.matcher(ptx);
        while (entry.find()) {
            List<String> types = new ArrayList<>();
            Matcher param = PARAM.matcher(entry.group(2));
            while (param.find()) {
                types.add(param.group(1));
            }
            entries.put(entry.group(1), List.copyOf(types));
        }
        return entries;
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code args} match {@code types} one for one: Long for a 64-bit
     * integer (a pointer or {@code long long}), Integer for a 32-bit one, Float for {@code .f32}.
     */
    static void check(String kernel, List<String> types, Object[] args) {
        if (args.length != types.size()) {
            throw new IllegalArgumentException(kernel + " takes " + types.size() + " arguments " + types + ", the launch "
                    + "passes " + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            String type = types.get(i);
            Class<?> wanted = type.equals(".f32") ? Float.class : type.endsWith("64") && !type.equals(".f64")
                    ? Long.class : type.endsWith("32") ? Integer.class : null;
            if (wanted == null || !wanted.isInstance(args[i])) {
                throw new IllegalArgumentException("argument " + i + " of " + kernel + " is " + (args[i] == null
                        ? "null" : args[i].getClass().getSimpleName() + " " + args[i]) + "; the PTX parameter is "
                        + type + (wanted == null ? ", which launches do not support" : ", which takes "
                        + wanted.getSimpleName()));
            }
        }
    }
}
