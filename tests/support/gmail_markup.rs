//! Gmail-like markup shared by the DOM adapter's tests and its fuzzing: an opened thread
//! (one expanded message, one collapsed) and three compose windows (the new recipient UI,
//! the old one, an inline reply), written after the captured pages in tests/fixtures/gmail.

pub const EXPANDED: &str = r##"
<div role="list">
 <div class="h7" role="listitem">
  <div class="adn ads" data-message-id="#msg-f:1602441164947422913" data-legacy-message-id="163d03bfda277ec1">
   <div class="gs"><div class="gE iv gt"><table class="cf gJ"><tbody><tr class="acZ">
     <td class="gF gK"><h3 class="iw"><span class="qu"><span class="gD" email="Ann.Lee@Acme.example" name="Ann Lee" data-hovercard-id="ann.lee@acme.example">Ann Lee</span></span></h3></td>
     <td class="gH"><span class="g3" title="Nov 21, 2026, 9:00 AM">9:00</span></td></tr>
     <tr class="acZ xD"><td><span class="hb">to <span class="g2" email="owner@example.com" name="me">me</span>, <span class="g2" email="bob@globex.example" name="Bob">Bob</span>, <span class="g2" email="ann.lee@acme.example" name="Ann">Ann</span></span></td></tr>
   </tbody></table></div>
   <div class="ii gt"><div class="a3s aiL">Hello   there</div></div><div class="hi"></div></div>
  </div>
 </div>
 <div class="kv" role="listitem">
  <div class="adn ads" data-legacy-message-id="163d03bfda277ec2"><div class="ii gt"></div></div>
 </div>
</div>"##;

pub const COMPOSES: &str = r##"
<div class="dw"><div class="nH"><div class="nH"><div class="no">
 <div class="nH"><div class="AD"><div role="dialog"><form>
   <input type="hidden" name="composeid" value="c1"><input type="hidden" name="draft" value="#msg-a:r-111">
   <div class="GS"><div class="anm" name="to"><div role="listbox">
     <div role="option" data-hovercard-id="ann@acme.example" data-name="Ann">Ann</div>
     <div role="option" data-hovercard-id="bob@globex.example" data-name="Bob">Bob</div></div></div>
   <div class="anm" name="cc"><div role="listbox"><div role="option" data-hovercard-id="cc@acme.example" data-name="">cc</div></div></div></div>
 </form></div></div></div>
</div></div></div></div>
<div class="aSs"><div class="aSt"><div role="dialog"><form>
  <input type="hidden" name="composeid" value="c2"><input type="hidden" name="draft" value="#msg-a:r-222">
  <table class="GS"><tbody><tr><td><div class="vR"><span class="vN">Lee, Ann</span><input type="hidden" name="to" value="&quot;Lee, Ann&quot; &lt;ann@acme.example&gt;"></div>
  <textarea class="vO" name="to"></textarea></td></tr></tbody></table>
</form></div></div></div>
<div class="ip adB"><div class="M9"><form>
  <input type="hidden" name="composeid" value="c3"><input type="hidden" name="draft" value="#msg-a:r-333">
</form></div></div>"##;
