using System.Text;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Ingest;
using Xunit;

namespace SmartMaintenance.Streams.Ingest.Tests;

public sealed class ReadingDecoderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private readonly List<SensorReading> _readings = [];
    private readonly List<Rejection> _rejects = [];

    private static ReadingDecoder NewDecoder(ValidationOptions? options = null) =>
        new(options ?? new ValidationOptions(), new FixedTime(Now));

    private int Decode(string json, ReadingDecoder? decoder = null) =>
        (decoder ?? NewDecoder()).Decode(Encoding.UTF8.GetBytes(json), new SourcePosition(3, 42, 0), _readings, _rejects);

    private Rejection SingleReject(string json, ReadingDecoder? decoder = null)
    {
        Decode(json, decoder);
        Assert.Empty(_readings);
        return Assert.Single(_rejects);
    }

    [Fact]
    public void Single_reading_with_every_field_decodes_exactly()
    {
        var count = Decode("""{"sensor_id":"s-1","ts":"2026-11-25T11:59:00.250+01:00","value":21.5,"asset_id":"pump-7","sensor_type":"temperature","unit":"°C","quality":0.9,"seq":17,"attributes":{"line":"A","n":[1,2]}}""");

        Assert.Equal(1, count);
        Assert.Empty(_rejects);
        var r = Assert.Single(_readings);
        Assert.Equal("s-1", r.SensorId);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 59, 0, 250, TimeSpan.Zero).ToUnixTimeMilliseconds(), r.Timestamp);
        Assert.Equal(21.5, r.Value);
        Assert.Equal("pump-7", r.AssetId);
        Assert.Equal("temperature", r.SensorType);
        Assert.Equal("°C", r.Unit);
        Assert.Equal(0.9, r.Quality);
        Assert.Equal(17, r.Seq);
        Assert.Equal("""{"line":"A","n":[1,2]}""", r.Attributes);
        Assert.Equal(new SourcePosition(3, 42, 0), r.Position);
    }

    [Fact]
    public void Ids_decode_to_the_same_pooled_string_whether_escaped_or_not_and_across_many_distinct_ids()
    {
        var decoder = NewDecoder();
        // More distinct ids than the decoder's id cache has slots: colliding ids must each still decode to themselves.
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 20_000; i++)
            {
                Decode($$"""{"sensor_id":"s-{{i}}","ts":"2026-11-25T11:00:00Z","value":1,"unit":"°C","sensor_type":"t{{i % 7}}"}""", decoder);
            }
        }
        Assert.Empty(_rejects);
        Assert.Equal(40_000, _readings.Count);
        for (var i = 0; i < 20_000; i++)
        {
            Assert.Equal("s-" + i, _readings[i].SensorId);
            Assert.Same(_readings[i].SensorId, _readings[20_000 + i].SensorId);
            Assert.Equal("t" + (i % 7), _readings[20_000 + i].SensorType);
            Assert.Equal("°C", _readings[20_000 + i].Unit);
        }
        _readings.Clear();

        // "s-1" spelled with a JSON escape is the same id, and a cached "s-1" is not returned for "s-10".
        Decode("""{"sensor_id":"s\u002d1","ts":"2026-11-25T11:00:00Z","value":1}""", decoder);
        Decode("""{"sensor_id":"s-1","ts":"2026-11-25T11:00:00Z","value":1}""", decoder);
        Decode("""{"sensor_id":"s-10","ts":"2026-11-25T11:00:00Z","value":1}""", decoder);
        Assert.Equal(["s-1", "s-1", "s-10"], _readings.Select(r => r.SensorId));
        Assert.Same(_readings[0].SensorId, _readings[1].SensorId);
    }

    [Fact]
    public void Blank_ids_are_rejected_on_every_message_not_only_the_first()
    {
        var decoder = NewDecoder();
        Decode("""{"sensor_id":"  ","ts":"2026-11-25T11:00:00Z","value":1}""", decoder);
        Decode("""{"sensor_id":"  ","ts":"2026-11-25T11:00:00Z","value":1}""", decoder);
        Assert.Empty(_readings);
        Assert.Equal(2, _rejects.Count);
        Assert.All(_rejects, r => Assert.Equal(RejectReason.MissingField, r.Reason));
    }

    [Fact]
    public void The_callers_clock_reading_is_what_timestamp_limits_are_checked_against()
    {
        var decoder = NewDecoder();
        var later = Now.AddHours(3).ToUnixTimeMilliseconds();
        var json = Encoding.UTF8.GetBytes($$"""{"sensor_id":"a","ts":{{Now.AddHours(2).ToUnixTimeMilliseconds()}},"value":1}""");

        // Two hours ahead of the decoder's own clock (Now), but one hour behind the clock reading passed in.
        decoder.Decode(json, SourcePosition.None, later, _readings, _rejects);
        Assert.Single(_readings);
        Assert.Empty(_rejects);

        decoder.Decode(json, SourcePosition.None, _readings, _rejects);
        Assert.Equal(RejectReason.FutureTimestamp, Assert.Single(_rejects).Reason);
    }

    [Fact]
    public void Epoch_millisecond_timestamps_are_accepted()
    {
        var ms = Now.AddSeconds(-5).ToUnixTimeMilliseconds();
        Decode($$"""{"sensor_id":"a","ts":{{ms}},"value":-3}""");
        Assert.Equal(ms, Assert.Single(_readings).Timestamp);
    }

    [Fact]
    public void Optional_fields_absent_use_sentinels()
    {
        Decode("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1}""");
        var r = Assert.Single(_readings);
        Assert.False(r.HasQuality);
        Assert.False(r.HasSeq);
        Assert.Null(r.AssetId);
        Assert.Null(r.Attributes);
    }

    [Fact]
    public void Sensor_ids_are_interned_so_repeated_readings_share_one_string()
    {
        var decoder = NewDecoder();
        Decode("""{"sensor_id":"same","ts":"2026-11-25T11:00:00Z","value":1}""", decoder);
        Decode("""{"sensor_id":"same","ts":"2026-11-25T11:00:01Z","value":2}""", decoder);
        Assert.Same(_readings[0].SensorId, _readings[1].SensorId);
    }

    [Fact]
    public void Escaped_sensor_id_is_unescaped()
    {
        Decode("""{"sensor_id":"a\u002Fb","ts":"2026-11-25T11:00:00Z","value":1}""");
        Assert.Equal("a/b", Assert.Single(_readings).SensorId);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        Decode("""{"sensor_id":"a","extra":{"deep":[1,{"x":null}]},"ts":"2026-11-25T11:00:00Z","value":1,"z":"q"}""");
        Assert.Single(_readings);
        Assert.Empty(_rejects);
    }

    [Theory]
    [InlineData("{\"sensor_id\":\"a\",\"ts\":\"2026-11-25T11:00:00Z\"", "unterminated")]
    [InlineData("not json", "plain text")]
    [InlineData("{\"sensor_id\":\"a\",}", "trailing comma")]
    [InlineData("[1,2,3]", "array at top level")]
    [InlineData("42", "number at top level")]
    [InlineData("{\"sensor_id\":\"a\",\"ts\":1,\"value\":1} {}", "two values")]
    [InlineData("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}", "nesting deeper than MaxDepth")]
    public void Malformed_json_is_rejected_whole(string json, string because)
    {
        var r = SingleReject(json);
        Assert.True(r.Reason == RejectReason.MalformedJson, because);
        Assert.True(r.IsWholeMessage);
        Assert.Equal(Encoding.UTF8.GetByteCount(json), r.Length);
    }

    [Fact]
    public void Empty_message_is_malformed()
    {
        var count = NewDecoder().Decode(ReadOnlySpan<byte>.Empty, SourcePosition.None, _readings, _rejects);
        Assert.Equal(0, count);
        Assert.Equal(RejectReason.MalformedJson, Assert.Single(_rejects).Reason);
    }

    [Theory]
    [InlineData("""{"ts":"2026-11-25T11:00:00Z","value":1}""", "sensor_id")]
    [InlineData("""{"sensor_id":"a","value":1}""", "ts")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z"}""", "value")]
    [InlineData("""{"sensor_id":null,"ts":"2026-11-25T11:00:00Z","value":1}""", "sensor_id")]
    [InlineData("""{"sensor_id":"","ts":"2026-11-25T11:00:00Z","value":1}""", "sensor_id")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":null}""", "value")]
    public void Missing_required_field_is_named(string json, string field)
    {
        var r = SingleReject(json);
        Assert.Equal(RejectReason.MissingField, r.Reason);
        Assert.Contains(field, r.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":"12.5"}""")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":true}""")]
    [InlineData("""{"sensor_id":7,"ts":"2026-11-25T11:00:00Z","value":1}""")]
    [InlineData("""{"sensor_id":"a","ts":"yesterday","value":1}""")]
    [InlineData("""{"sensor_id":"a","ts":[1],"value":1}""")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"seq":-4}""")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"seq":1.5}""")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"attributes":[1]}""")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"quality":"good"}""")]
    [InlineData("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"asset_id":3}""")]
    public void Wrong_type_or_format_is_invalid_field(string json)
    {
        Assert.Equal(RejectReason.InvalidField, SingleReject(json).Reason);
    }

    [Fact]
    public void Overlong_sensor_id_is_invalid_field()
    {
        var id = new string('x', 129);
        Assert.Equal(RejectReason.InvalidField, SingleReject($$"""{"sensor_id":"{{id}}","ts":"2026-11-25T11:00:00Z","value":1}""").Reason);
    }

    [Theory]
    [InlineData("\"NaN\"")]
    [InlineData("\"Infinity\"")]
    [InlineData("\"-Infinity\"")]
    [InlineData("1e999")]
    [InlineData("-1e400")]
    public void Non_finite_value_is_rejected(string value)
    {
        Assert.Equal(RejectReason.NonFiniteValue, SingleReject($$"""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":{{value}}}""").Reason);
    }

    [Theory]
    [InlineData("temperature", "-300")]
    [InlineData("humidity", "100.5")]
    [InlineData("vibration", "-1")]
    public void Value_outside_the_sensor_types_range_is_out_of_range(string type, string value)
    {
        Assert.Equal(RejectReason.OutOfRange, SingleReject($$"""{"sensor_id":"a","sensor_type":"{{type}}","ts":"2026-11-25T11:00:00Z","value":{{value}}}""").Reason);
    }

    [Fact]
    public void Quality_outside_zero_to_one_is_out_of_range()
    {
        Assert.Equal(RejectReason.OutOfRange, SingleReject("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"quality":1.5}""").Reason);
    }

    [Fact]
    public void Unknown_sensor_type_has_no_range()
    {
        Decode("""{"sensor_id":"a","sensor_type":"torque","ts":"2026-11-25T11:00:00Z","value":-1e9}""");
        Assert.Single(_readings);
    }

    [Fact]
    public void Configured_range_replaces_the_default()
    {
        var options = new ValidationOptions();
        options.Ranges["temperature"] = "0:50";
        Assert.Equal(RejectReason.OutOfRange, SingleReject("""{"sensor_id":"a","sensor_type":"temperature","ts":"2026-11-25T11:00:00Z","value":51}""", NewDecoder(options)).Reason);
    }

    [Fact]
    public void Timestamp_too_far_ahead_is_future_timestamp()
    {
        Assert.Equal(RejectReason.FutureTimestamp, SingleReject("""{"sensor_id":"a","ts":"2026-11-25T12:06:00Z","value":1}""").Reason);
    }

    [Fact]
    public void Timestamp_within_the_allowed_skew_is_accepted()
    {
        Decode("""{"sensor_id":"a","ts":"2026-11-25T12:04:00Z","value":1}""");
        Assert.Single(_readings);
    }

    [Fact]
    public void Timestamp_too_old_is_past_timestamp()
    {
        Assert.Equal(RejectReason.PastTimestamp, SingleReject("""{"sensor_id":"a","ts":"2024-01-01T00:00:00Z","value":1}""").Reason);
    }

    [Fact]
    public void Past_limit_is_configurable_for_back_fills()
    {
        var options = new ValidationOptions { MaxPastAge = TimeSpan.FromDays(365 * 20) };
        Decode("""{"sensor_id":"a","ts":"2014-01-01T00:00:00Z","value":1}""", NewDecoder(options));
        Assert.Single(_readings);
    }

    [Fact]
    public void Message_over_the_size_limit_is_too_large()
    {
        var options = new ValidationOptions { MaxMessageBytes = 64 };
        var r = SingleReject("""{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxx"}""", NewDecoder(options));
        Assert.Equal(RejectReason.TooLarge, r.Reason);
    }

    [Fact]
    public void Envelope_yields_each_reading_with_its_index()
    {
        var count = Decode("""{"readings":[{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1},{"sensor_id":"b","ts":"2026-11-25T11:00:01Z","value":2}]}""");
        Assert.Equal(2, count);
        Assert.Equal([0, 1], _readings.Select(r => r.Position.Index));
        Assert.All(_readings, r => Assert.Equal(42, r.Position.Offset));
    }

    [Fact]
    public void Bad_reading_inside_an_envelope_is_rejected_alone_with_its_own_bytes()
    {
        var bad = """{"sensor_id":"b","ts":"2026-11-25T11:00:01Z","value":"NaN"}""";
        var json = $$"""{"readings":[{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1}, {{bad}} ,{"sensor_id":"c","ts":"2026-11-25T11:00:02Z","value":3}]}""";
        var count = Decode(json);

        Assert.Equal(3, count);
        Assert.Equal(["a", "c"], _readings.Select(r => r.SensorId));
        var r = Assert.Single(_rejects);
        Assert.Equal(RejectReason.NonFiniteValue, r.Reason);
        Assert.Equal(1, r.Index);
        Assert.Equal(bad, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(json), r.Start, r.Length));
    }

    [Fact]
    public void Envelope_element_that_is_not_an_object_is_invalid_field()
    {
        Decode("""{"readings":[{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1}, 5]}""");
        Assert.Single(_readings);
        var r = Assert.Single(_rejects);
        Assert.Equal(RejectReason.InvalidField, r.Reason);
        Assert.Equal(1, r.Index);
    }

    [Fact]
    public void Syntax_error_inside_an_envelope_rejects_the_whole_message_and_keeps_no_reading()
    {
        Decode("""{"readings":[{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1},{"sensor_id":"b",""");
        Assert.Empty(_readings);
        var r = Assert.Single(_rejects);
        Assert.Equal(RejectReason.MalformedJson, r.Reason);
        Assert.True(r.IsWholeMessage);
    }

    [Fact]
    public void Envelope_with_too_many_readings_is_rejected_whole()
    {
        var options = new ValidationOptions { MaxReadingsPerMessage = 2 };
        var one = """{"sensor_id":"a","ts":"2026-11-25T11:00:00Z","value":1}""";
        Decode($$"""{"readings":[{{one}},{{one}},{{one}}]}""", NewDecoder(options));
        Assert.Empty(_readings);
        Assert.Equal(RejectReason.TooManyReadings, Assert.Single(_rejects).Reason);
    }

    [Fact]
    public void First_problem_found_is_the_reason_reported()
    {
        var r = SingleReject("""{"sensor_id":"a","ts":"yesterday","value":"NaN"}""");
        Assert.Equal(RejectReason.InvalidField, r.Reason);
    }

    [Fact]
    public void Invalid_range_configuration_names_the_setting()
    {
        var options = new ValidationOptions();
        options.Ranges["pressure"] = "10:1";
        var ex = Assert.Throws<ConfigurationException>(() => NewDecoder(options));
        Assert.Equal("Validation:Ranges:pressure", ex.Setting);
    }

    [Fact]
    public void Out_of_bounds_numeric_setting_names_the_setting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => NewDecoder(new ValidationOptions { MaxDepth = 1 }));
        Assert.Equal("Validation:MaxDepth", ex.Setting);
    }

    [Fact]
    public void Every_reject_reason_has_a_distinct_stable_code()
    {
        var codes = RejectReasons.All.Select(r => r.ToCode()).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.Contains("malformed_json", codes);
        Assert.All(RejectReasons.All, r => Assert.True(RejectReasons.TryParse(r.ToCode(), out var back) && back == r));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
