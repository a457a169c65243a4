package dev.headsweep.engine.cpu;

/** Child-JVM probe for {@link ImplementationSelectionTest}: prints the default implementation. */
public final class ImplementationProbe {
    private ImplementationProbe() {
    }

    public static void main(String[] args) {
        float[] E = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        FactoredTopK.Prepared p = FactoredTopK.prepare(E, 6, 2, null);
        FactoredTopK f = new FactoredTopK();
        int[] ids = new int[2];
        float[] vals = new float[2];
        f.run(p, new float[] {1, 1}, 1, new float[] {1}, 1, 2, ids, vals);
        System.out.println("implementation=" + FactoredTopK.implementation() + " instance=" + f.name()
                + " top=" + ids[0] + "," + ids[1]);
    }
}
