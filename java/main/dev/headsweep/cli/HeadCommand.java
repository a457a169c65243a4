package dev.headsweep.cli;

import dev.headsweep.engine.HeadId;
import dev.headsweep.report.HeadReport;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "head", mixinStandardHelpOptions = true,
        description = {"Shows one head keyword by keyword: the top-K tokens its OV circuit writes "
                + "and whether each relation hit.", ""},
        footer = {"", "Example:", "  headsweep head 9.1 --model gpt2 --task numerals"})
final class HeadCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "L.H", description = "The head, as layer.head (e.g. 9.1).")
    String head;

    @Mixin
    SweepOptions options;

    @Mixin
    CacheOption cache;

    @Option(names = "--out", paramLabel = "FILE", description = "Write to FILE (atomically) instead of stdout.")
    Path out;

    @Override
    public Integer call() {
        HeadId id = HeadId.parse(head);
        SweepResult r = options.run(List.of(id), cache.cache(options.quiet), true);
        Output.emit(HeadReport.text(r, id), out);
        return 0;
    }
}
