package dev.headsweep.engine.cpu;

/**
 * Whether the CPU backend's hot loops may use the Java Vector API: the incubator module
 * {@code jdk.incubator.vector} must be in the boot layer ({@code --add-modules=jdk.incubator.vector},
 * as {@code ./headsweep} and the tests run), and {@code -Dheadsweep.vector=false} turns it off.
 * Only the classes named {@code Vector*} touch the API, so the plain path never loads it.
 */
final class VectorApi {
    /** The module is present in this JVM. */
    static final boolean PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** The module is present and not turned off. */
    static final boolean ENABLED = PRESENT && !"false".equalsIgnoreCase(System.getProperty("headsweep.vector"));

    private VectorApi() {
    }
}
