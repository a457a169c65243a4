package dev.headsweep.cli;

import dev.headsweep.HeadSweepException;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code headsweep} command. User errors (bad checkpoint, task or option) print one line on
 * stderr and exit with 2; unexpected failures exit with 1 (set HEADSWEEP_DEBUG=1 for the trace).
 */
@Command(name = "headsweep", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Scores what every attention head of a GPT-2 model does with a token through its OV "
                + "circuit: copy it (copy score) or write its successor (next score).", ""},
        subcommands = {SweepCommand.class, HeadCommand.class, TokensCommand.class, DemoCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Start with:", "  headsweep demo                                  # no download needed",
            "  headsweep sweep --model gpt2 --task numerals",
            "  headsweep help sweep"})
public final class Main implements Runnable {
    static final int USER_ERROR = 2;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            String cmd = ex.getCommandLine().getCommandName();
            ex.getCommandLine().getErr().println("headsweep: " + oneLine(ex.getMessage())
                    + " (see: headsweep " + ("headsweep".equals(cmd) ? "" : cmd + " ") + "--help)");
            return USER_ERROR;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof HeadSweepException) {
                c.getErr().println("headsweep: " + oneLine(ex.getMessage()));
                return USER_ERROR;
            }
            c.getErr().println("headsweep: internal error: " + oneLine(String.valueOf(ex))
                    + (System.getenv("HEADSWEEP_DEBUG") == null ? " (set HEADSWEEP_DEBUG=1 for details)" : ""));
            if (System.getenv("HEADSWEEP_DEBUG") != null) {
                StringWriter sw = new StringWriter();
                ex.printStackTrace(new PrintWriter(sw));
                c.getErr().print(sw);
            }
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("headsweep: out of memory; give Java more with JAVA_OPTS=-Xmx8g");
            return 1;
        }
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"headsweep " + (v == null ? "(development build)" : v)};
        }
    }
}
