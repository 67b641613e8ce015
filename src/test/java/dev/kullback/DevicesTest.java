package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DevicesTest {
    @Test
    void cpuIsOneProcessWideDeviceThatCloseLeavesOpen() {
        Device cpu = Devices.cpu();
        assertSame(cpu, Devices.cpu());
        assertFalse(cpu.isGpu());
        assertTrue(cpu.name().startsWith("cpu ("), cpu.name());
        cpu.close();
        try (Tensor x = cpu.upload(new float[] {1, 2}, 1, 2); Tensor total = cpu.sum(x)) {
            assertEquals(3f, total.item());
        }
    }

    @Test
    void bestIsTheGpuWhenOneIsUsableAndOtherwiseTheCpuWithTheReason() {
        Device best = Devices.best();
        assertSame(best, Devices.best());
        String reason = Devices.reason();
        assertNotNull(reason);
        if (best.isGpu()) {
            assertSame(best, Devices.cuda());
        } else {
            assertSame(Devices.cpu(), best);
            IllegalStateException noGpu = assertThrows(IllegalStateException.class, Devices::cuda);
            assertTrue(noGpu.getMessage().startsWith("no usable CUDA device: "), noGpu.getMessage());
            assertTrue(reason.startsWith("no usable GPU: "), reason);
            // one line, not JCuda's nested stack traces
            assertFalse(noGpu.getMessage().contains("\n"), noGpu.getMessage());
        }
    }
}
