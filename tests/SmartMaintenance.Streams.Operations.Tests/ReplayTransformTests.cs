using System.Text;
using System.Text.Json.Nodes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Operations.Dlq;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

public sealed class ReplayTransformTests
{
    private static JsonObject Apply(string transform, string payload)
    {
        Assert.True(ReplayTransform.Parse(transform).TryApply(Encoding.UTF8.GetBytes(payload), out var result, out var error), error);
        return JsonNode.Parse(result)!.AsObject();
    }

    [Fact]
    public void Rename_set_scale_and_drop_apply_in_order()
    {
        var o = Apply("""
            {"steps":[
              {"op":"rename","field":"val","to":"value"},
              {"op":"scale","field":"value","factor":0.1,"offset":1},
              {"op":"set","field":"attributes.fixed_by","value":"replay"},
              {"op":"drop","field":"debug"}]}
            """, """{"sensor_id":"a","val":"200","debug":{"x":1}}""");
        Assert.Equal(21.0, o["value"]!.GetValue<double>(), 9);
        Assert.False(o.ContainsKey("val"));
        Assert.False(o.ContainsKey("debug"));
        Assert.Equal("replay", o["attributes"]!["fixed_by"]!.GetValue<string>());
    }

    [Fact]
    public void Convert_with_a_unit_field_changes_only_records_in_the_source_unit_and_updates_the_unit()
    {
        const string t = """{"steps":[{"op":"convert","field":"value","from":"degF","to":"degC","unit_field":"unit"}]}""";
        var f = Apply(t, """{"value":212,"unit":"°F"}""");
        Assert.Equal(100.0, f["value"]!.GetValue<double>(), 9);
        Assert.Equal("degC", f["unit"]!.GetValue<string>());
        var c = Apply(t, """{"value":21,"unit":"C"}""");
        Assert.Equal(21.0, c["value"]!.GetValue<double>(), 9);
        Assert.Equal("C", c["unit"]!.GetValue<string>());
    }

    [Fact]
    public void When_guards_a_step()
    {
        const string t = """{"steps":[{"op":"scale","field":"value","factor":1000,"when":{"field":"sensor_type","equals":"pressure"}}]}""";
        Assert.Equal(2000.0, Apply(t, """{"value":2,"sensor_type":"pressure"}""")["value"]!.GetValue<double>());
        Assert.Equal(2.0, Apply(t, """{"value":2,"sensor_type":"vibration"}""")["value"]!.GetValue<double>());
    }

    [Fact]
    public void A_payload_that_is_not_a_JSON_object_or_a_non_numeric_scale_fails_with_a_reason()
    {
        var t = ReplayTransform.Parse("""{"steps":[{"op":"scale","field":"value","factor":2}]}""");
        Assert.False(t.TryApply("{\"value\":"u8, out _, out var e1));
        Assert.Contains("not valid JSON", e1, StringComparison.Ordinal);
        Assert.False(t.TryApply("""{"value":"abc"}"""u8, out _, out var e2));
        Assert.Contains("step 0", e2, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"steps":[{"op":"exec","field":"a"}]}""", "unknown op")]
    [InlineData("""{"steps":[{"op":"convert","field":"value","from":"degF","to":"bar"}]}""", "cannot convert")]
    [InlineData("""{"steps":[{"op":"convert","field":"value","from":"furlong","to":"bar"}]}""", "unknown unit")]
    [InlineData("""{"steps":[{"op":"rename","field":"a"}]}""", "'to' is required")]
    [InlineData("""{"steps":[{"op":"set","field":"a","value":1,"script":"x"}]}""", "'script' is not a property")]
    [InlineData("""{"code":"x","steps":[]}""", "unknown property 'code'")]
    public void Invalid_transforms_fail_at_load_naming_the_problem(string json, string expected)
    {
        var ex = Assert.Throws<ConfigurationException>(() => ReplayTransform.Parse(json));
        Assert.Equal("--transform", ex.Setting);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Payload_preview_shows_binary_as_hex_and_never_splits_a_character()
    {
        Assert.Equal("hex:00ff", PayloadPreview.Format(new byte[] { 0, 255 }, 10));
        Assert.Equal("hex:0102… (3 bytes)", PayloadPreview.Format(new byte[] { 1, 2, 3 }, 2));
        Assert.Equal("a\\nb", PayloadPreview.Format("a\nb"u8, 10));
        // "°" is two bytes; a cut inside it backs up to the character start.
        Assert.Equal("x… (3 bytes)", PayloadPreview.Format("x°"u8, 2));
    }
}
