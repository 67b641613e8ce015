package dev.kullback.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Every loss kernel, through the CUDA device's Java path, on the host simulator (see LossParityContract). */
class SimulatorLossParityTest extends LossParityContract {
    private static CudaDevice simulated;

    @BeforeAll
    static void openSimulator() {
        simulated = new CudaDevice(SimGpus.open());
    }

    @AfterAll
    static void closeSimulator() {
        if (simulated != null) {
            simulated.close();
        }
    }

    @Override
    CudaDevice cuda() {
        return simulated;
    }
}
