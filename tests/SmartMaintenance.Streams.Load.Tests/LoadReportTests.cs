using System.Xml.Linq;
using SmartMaintenance.Streams.Load;
using Xunit;

namespace SmartMaintenance.Streams.Load.Tests;

public sealed class LoadReportTests
{
    private static LoadResult Result(LoadOptions options, long[] e2eMicros, long failures = 0, long sent = 1000)
    {
        var e2e = new LatencyRecorder();
        foreach (var v in e2eMicros)
        {
            e2e.Record(v, measured: true);
        }
        var samples = Enumerable.Range(1, 5).Select(i => new LoadSample
        {
            Seconds = i, Measured = i > 1, OfferedReadingsPerSecond = 100, SentReadingsPerSecond = 100, AckedMessagesPerSecond = 100,
            LagMessages = 10 * i, E2eP99Ms = i, RssMb = 100 + i,
        }).ToArray();
        var r = new LoadResult
        {
            Options = options, Samples = samples, Ack = new LatencyRecorder(), EndToEnd = e2e, Alert = new LatencyRecorder(),
            MessagesSent = sent, ReadingsSent = sent, DeliveryFailures = failures, MeasuredSeconds = options.Duration.TotalSeconds,
            MeasuredReadings = (long)(options.Rate * options.Duration.TotalSeconds), OfferedMeasuredReadings = options.Rate * options.Duration.TotalSeconds,
            Thresholds = [],
        };
        return r with { Thresholds = LoadRunner.Evaluate(r) };
    }

    [Fact]
    public void A_p99_above_the_limit_fails_the_run_and_one_below_passes()
    {
        var options = new LoadOptions { Rate = 100, Duration = TimeSpan.FromSeconds(4), MaxP99 = TimeSpan.FromMilliseconds(250) };
        var slow = Result(options, [.. Enumerable.Repeat(100_000L, 90), .. Enumerable.Repeat(400_000L, 10)]);
        var fast = Result(options, [.. Enumerable.Repeat(100_000L, 100)]);
        Assert.False(slow.Passed);
        Assert.Contains(slow.Thresholds, t => t.Name.Contains("end-to-end", StringComparison.Ordinal) && !t.Passed);
        Assert.True(fast.Passed);
    }

    [Fact]
    public void A_latency_threshold_without_samples_fails_rather_than_passing_silently()
    {
        var r = Result(new LoadOptions { Rate = 100, Duration = TimeSpan.FromSeconds(4), MaxP99 = TimeSpan.FromSeconds(1) }, []);
        Assert.False(r.Passed);
    }

    [Fact]
    public void The_error_rate_threshold_compares_failed_deliveries_to_messages_sent()
    {
        var options = new LoadOptions { Rate = 100, Duration = TimeSpan.FromSeconds(4), MaxErrorRate = 0.001 };
        Assert.False(Result(options, [1000], failures: 2, sent: 1000).Passed);
        Assert.True(Result(options, [1000], failures: 1, sent: 1000).Passed);
    }

    [Fact]
    public void The_alert_latency_is_reported_split_at_the_engines_publication_with_window_alerts_counted_apart()
    {
        var r = Result(new LoadOptions { Rate = 100, Duration = TimeSpan.FromSeconds(4) }, [1000]);
        var publish = new LatencyRecorder();
        var delivery = new LatencyRecorder();
        publish.Record(30_000, measured: true);
        delivery.Record(8_000, measured: true);
        r = r with { AlertPublish = publish, AlertDelivery = delivery, AlertsSeen = 1, WindowAlertsSeen = 3 };

        var md = LoadReport.Markdown(r, "smstream load");

        Assert.Contains("| … event time → engine publishes the alert | 1 | 30.0", md, StringComparison.Ordinal);
        Assert.Contains("| … engine publishes → alert consumed | 1 | 8.0", md, StringComparison.Ordinal);
        Assert.Contains("alerts (open) seen: 1 (plus 3 of window detectors, not timed)", md, StringComparison.Ordinal);
    }

    [Fact]
    public void The_report_writes_markdown_html_csv_and_well_formed_svg_plots()
    {
        var dir = Path.Combine(Path.GetTempPath(), "load-report-test-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var r = Result(new LoadOptions { Rate = 100, Duration = TimeSpan.FromSeconds(4), MaxP99 = TimeSpan.FromSeconds(1) }, [5000, 7000]);
            var md = LoadReport.Write(r, dir, "smstream load --rate 100");
            Assert.Contains("## Result: PASS", File.ReadAllText(md), StringComparison.Ordinal);
            var csv = File.ReadAllLines(Path.Combine(dir, "series.csv"));
            Assert.Equal(r.Samples.Count + 1, csv.Length);
            Assert.StartsWith("seconds,measured,", csv[0], StringComparison.Ordinal);
            foreach (var name in new[] { "throughput", "latency", "lag" })
            {
                var svg = XDocument.Load(Path.Combine(dir, name + ".svg"));
                Assert.Equal("svg", svg.Root!.Name.LocalName);
                Assert.Contains(svg.Root.Descendants(), e => e.Name.LocalName == "polyline");
            }
            var html = File.ReadAllText(Path.Combine(dir, "report.html"));
            Assert.Contains("<svg", html, StringComparison.Ordinal);
            Assert.Contains("<table>", html, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
